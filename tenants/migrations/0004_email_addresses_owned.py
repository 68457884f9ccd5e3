"""E-mail ownership (#19 Medium 5, tenants/accounts.py): every account's own address (`User.email`,
proved by its invitation) becomes a verified, primary allauth address, and any other account's
claim on it (an address added on /accounts/email/, verified or not) is removed."""

from django.db import migrations


def forwards(apps, schema_editor):
    User = apps.get_model("tenants", "User")
    EmailAddress = apps.get_model("account", "EmailAddress")
    for user in User.objects.exclude(email="").iterator():
        email = user.email.strip().lower()
        EmailAddress.objects.filter(email__iexact=email).exclude(user_id=user.pk).delete()
        address = EmailAddress.objects.filter(user_id=user.pk, email__iexact=email).first()
        if address is not None and address.verified and address.primary:
            continue
        EmailAddress.objects.filter(user_id=user.pk, primary=True).update(primary=False)
        if address is None:
            EmailAddress.objects.create(user_id=user.pk, email=email, verified=True, primary=True)
        else:
            address.verified = address.primary = True
            address.save(update_fields=["verified", "primary"])


class Migration(migrations.Migration):
    dependencies = [
        ("tenants", "0003_api_key_scopes"),
        ("account", "0009_emailaddress_unique_primary_email"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop, elidable=True)]
