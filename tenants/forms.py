from django import forms
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.utils.translation import gettext_lazy as _

from .models import ApiScope, Role, Tenant


class InvitationForm(forms.Form):
    email = forms.EmailField(label=_("Email address"), max_length=254)
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices, initial=Role.MARKETING)


class RoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)


class AcceptInvitationForm(forms.Form):
    name = forms.CharField(label=_("Your name"), max_length=150)
    password1 = forms.CharField(label=_("Password"), widget=forms.PasswordInput, strip=False)
    password2 = forms.CharField(label=_("Password (again)"), widget=forms.PasswordInput, strip=False)

    def __init__(self, *args, email: str = "", **kwargs):
        self.email = email
        super().__init__(*args, **kwargs)

    def clean(self):
        cleaned = super().clean()
        p1, p2 = cleaned.get("password1"), cleaned.get("password2")
        if p1 and p2 and p1 != p2:
            self.add_error("password2", _("The two passwords do not match."))
        elif p1:
            from .models import User

            try:
                validate_password(p1, User(email=self.email, name=cleaned.get("name", "")))
            except forms.ValidationError as error:
                self.add_error("password1", error)
        return cleaned


class LanguageForm(forms.Form):
    language = forms.ChoiceField(choices=settings.LANGUAGES)
    next = forms.CharField(required=False)


class ApiKeyForm(forms.Form):
    name = forms.CharField(label=_("Key name"), max_length=50, help_text=_("e.g. the system that sends the data"))
    scopes = forms.MultipleChoiceField(
        label=_("What the key may do"),
        choices=ApiScope.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        initial=[ApiScope.INGEST],
        help_text=_(
            "A write key for Segment or a site tag needs only “Ingest”; it ends up in browsers, so never give it more."
        ),
    )

    def clean_scopes(self) -> list[str]:
        # Nothing ticked: the least a key can do (ingest), never a key that can do everything.
        return self.cleaned_data.get("scopes") or [ApiScope.INGEST]


class TenantSettingsForm(forms.ModelForm):
    class Meta:
        model = Tenant
        fields = ["name", "timezone", "default_language"]

    def clean_timezone(self):
        import zoneinfo

        value = self.cleaned_data["timezone"]
        if value not in zoneinfo.available_timezones():
            raise forms.ValidationError(_("Unknown time zone. Use a name such as Asia/Tokyo."))
        return value
