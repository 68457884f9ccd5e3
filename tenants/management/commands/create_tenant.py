from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from tenants.services import tenant_create


class Command(BaseCommand):
    help = "Create a tenant (platform operators), optionally with its first admin."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("slug")
        parser.add_argument("--admin-email")
        parser.add_argument("--admin-password")
        parser.add_argument("--timezone", default="Asia/Tokyo")
        parser.add_argument("--language", default="ja", choices=["ja", "en"])

    def handle(self, *args, **options):
        try:
            tenant = tenant_create(
                name=options["name"],
                slug=options["slug"],
                admin_email=options["admin_email"],
                admin_password=options["admin_password"],
                timezone_name=options["timezone"],
                language=options["language"],
            )
        except ValidationError as error:
            raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in error.message_dict.items())) from error
        self.stdout.write(self.style.SUCCESS(f"Created tenant {tenant.slug} (id {tenant.id})"))
