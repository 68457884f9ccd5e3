"""Forms of the lead pages. They shape input; the services validate (one set of rules everywhere)."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from tenants.params import parse_id

from . import selectors
from .csv_import import ENCODING_CHOICES, target_choices
from .defaults import TRAIT_TARGETS
from .models import Authority, Budget, CustomFieldType, MappingKind, SizeBand, Stage, Timing

# Attributes editable in place on the lead page, in display order.
EDITABLE_FIELDS = [
    "name",
    "email",
    "company",
    "title",
    "department",
    "employee_count",
    "size_band",
    "industry",
    "phone",
    "channel",
    "campaign",
    "owner",
    "authority",
    "need",
    "budget",
    "timing",
    "email_consent",
    "unsubscribed",
]
BANT_FIELDS = ["authority", "need", "budget", "timing"]
FIELD_LABELS = {
    "name": _("Name"),
    "email": _("Email"),
    "company": _("Company"),
    "title": _("Job title"),
    "department": _("Department"),
    "employee_count": _("Employees"),
    "size_band": _("Company size band"),
    "industry": _("Industry"),
    "phone": _("Phone"),
    "channel": _("Source channel"),
    "campaign": _("Campaign"),
    "owner": _("Owner"),
    "authority": _("Decision authority"),
    "need": _("Need / challenge"),
    "budget": _("Budget"),
    "timing": _("Timing"),
    "email_consent": _("Email consent"),
    "unsubscribed": _("Unsubscribed"),
}


def _member_choices(empty_label) -> list[tuple[str, str]]:
    return [("", empty_label)] + [
        (str(user.pk), f"{user.display_name} <{user.email}>") for user in selectors.member_choices()
    ]


def _channel_choices(empty_label) -> list[tuple[str, str]]:
    return [("", empty_label)] + [(c.key, c.label) for c in selectors.channels()]


def field_widget(name: str, *, definition=None) -> forms.Field:
    """The form field used to edit one lead attribute (or a custom field) in place."""
    if definition is not None:
        label = definition.label
        kind = definition.field_type
        if kind == CustomFieldType.CHOICE:
            return forms.ChoiceField(
                label=label, required=False, choices=[("", "—")] + [(c, c) for c in definition.choices]
            )
        if kind == CustomFieldType.BOOLEAN:
            return forms.ChoiceField(
                label=label, required=False, choices=[("", "—"), ("true", _("Yes")), ("false", _("No"))]
            )
        if kind == CustomFieldType.DATE:
            return forms.CharField(label=label, required=False, widget=forms.DateInput(attrs={"type": "date"}))
        if kind == CustomFieldType.NUMBER:
            return forms.CharField(label=label, required=False, widget=forms.TextInput(attrs={"inputmode": "decimal"}))
        return forms.CharField(label=label, required=False, max_length=1000)
    label = FIELD_LABELS[name]
    if name == "need":
        return forms.CharField(label=label, required=False, widget=forms.Textarea(attrs={"rows": 3}), max_length=5000)
    if name == "employee_count":
        return forms.CharField(label=label, required=False, widget=forms.TextInput(attrs={"inputmode": "numeric"}))
    if name in ("email_consent", "unsubscribed"):
        return forms.ChoiceField(label=label, choices=[("true", _("Yes")), ("false", _("No"))])
    choices = {
        "size_band": SizeBand.choices,
        "authority": Authority.choices,
        "budget": Budget.choices,
        "timing": Timing.choices,
    }
    if name in choices:
        return forms.ChoiceField(label=label, required=False, choices=choices[name])
    if name == "channel":
        return forms.ChoiceField(label=label, required=False, choices=_channel_choices(_("Not set")))
    if name == "owner":
        return forms.ChoiceField(label=label, required=False, choices=_member_choices(_("No owner")))
    if name == "email":
        return forms.CharField(label=label, max_length=254, widget=forms.EmailInput())
    return forms.CharField(label=label, required=False, max_length=200)


class LeadFieldForm(forms.Form):
    """One attribute, edited in place (the field is named `value`)."""

    def __init__(self, *args, name: str, definition=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["value"] = field_widget(name, definition=definition)


class LeadCreateForm(forms.Form):
    email = forms.CharField(label=_("Email"), max_length=254, widget=forms.EmailInput())
    name = forms.CharField(label=_("Name"), max_length=200, required=False)
    company = forms.CharField(label=_("Company"), max_length=200, required=False)
    title = forms.CharField(label=_("Job title"), max_length=200, required=False)
    department = forms.CharField(label=_("Department"), max_length=200, required=False)
    phone = forms.CharField(label=_("Phone"), max_length=40, required=False)
    industry = forms.CharField(label=_("Industry"), max_length=100, required=False)
    employee_count = forms.CharField(
        label=_("Employees"), required=False, widget=forms.TextInput(attrs={"inputmode": "numeric"})
    )
    channel = forms.ChoiceField(label=_("Source channel"), required=False)
    owner = forms.ChoiceField(label=_("Owner"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["channel"].choices = _channel_choices(_("Not set"))
        self.fields["owner"].choices = _member_choices(_("No owner"))

    def service_data(self) -> dict:
        return {key: value for key, value in self.cleaned_data.items() if value not in ("", None)}


class StageForm(forms.Form):
    stage = forms.ChoiceField(label=_("New stage"), choices=Stage.choices)
    reason = forms.CharField(label=_("Reason"), max_length=200, required=False)


class BulkActionForm(forms.Form):
    ACTIONS = [("owner", _("Assign owner")), ("stage", _("Change stage"))]

    ids = forms.TypedMultipleChoiceField(coerce=int, choices=[])
    action = forms.ChoiceField(choices=ACTIONS)
    owner = forms.ChoiceField(label=_("Owner"), required=False)
    stage = forms.ChoiceField(label=_("Stage"), required=False, choices=[("", "—"), *Stage.choices])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].choices = [("", "—"), ("none", _("No owner"))] + [
            (str(user.pk), user.display_name) for user in selectors.member_choices()
        ]
        raw_ids = self.data.getlist("ids") if hasattr(self.data, "getlist") else []
        self.fields["ids"].choices = [(value, value) for value in raw_ids if parse_id(value) is not None]

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("ids"):
            raise ValidationError(_("Select at least one lead."))
        if cleaned.get("action") == "owner" and not cleaned.get("owner"):
            self.add_error("owner", _("Choose the new owner."))
        if cleaned.get("action") == "stage" and not cleaned.get("stage"):
            self.add_error("stage", _("Choose the new stage."))
        return cleaned


class ImportUploadForm(forms.Form):
    file = forms.FileField(label=_("CSV file"), help_text=_("UTF-8 or Shift_JIS (Excel), up to 50 MB."))
    encoding = forms.ChoiceField(label=_("Character encoding"), choices=ENCODING_CHOICES, initial="auto")


class ImportMappingForm(forms.Form):
    encoding = forms.ChoiceField(label=_("Character encoding"), choices=[c for c in ENCODING_CHOICES if c[0] != "auto"])

    def __init__(self, *args, header: list[str], mapping: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        choices = target_choices(selectors.custom_field_definitions())
        self.header = header
        for index, column in enumerate(header):
            self.fields[f"col_{index}"] = forms.ChoiceField(
                label=column or _("Column %(n)d") % {"n": index + 1},
                choices=choices,
                required=False,
                initial=mapping[index] if index < len(mapping) else "",
            )

    def column_fields(self):
        return [self[f"col_{index}"] for index in range(len(self.header))]

    def mapping(self) -> list[str]:
        return [self.cleaned_data.get(f"col_{index}") or "" for index in range(len(self.header))]


class ChannelForm(forms.Form):
    label = forms.CharField(label=_("Channel name"), max_length=100)


class CustomFieldForm(forms.Form):
    label = forms.CharField(label=_("Field name"), max_length=100)
    field_type = forms.ChoiceField(label=_("Type"), choices=CustomFieldType.choices)
    choices = forms.CharField(
        label=_("Choices (one per line)"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    filterable = forms.BooleanField(label=_("Show as a filter on the lead list"), required=False, initial=True)

    def choice_list(self) -> list[str]:
        return [line.strip() for line in self.cleaned_data.get("choices", "").splitlines() if line.strip()]


class ActivityTypeForm(forms.Form):
    label = forms.CharField(label=_("Activity name"), max_length=100)
    key = forms.SlugField(label=_("Key (sent by your systems)"), max_length=60, required=False)


class MappingForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=MappingKind.choices)
    source = forms.CharField(label=_("Name in Segment / RudderStack"), max_length=200)
    target = forms.ChoiceField(label=_("Maps to"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        field_labels = dict(FIELD_LABELS) | {"first_name": _("Given name"), "last_name": _("Family name")}
        traits = [(key, f"{_('Lead')}: {field_labels.get(key, key)}") for key in TRAIT_TARGETS] + [
            (f"custom.{d.key}", f"{_('Lead')}: {d.label}") for d in selectors.custom_field_definitions()
        ]
        types = [(key, f"{_('Activity')}: {label}") for key, label in selectors.activity_type_choices()]
        self.fields["target"].choices = [("", _("— ignore —"))] + traits + types


class FormEndpointForm(forms.Form):
    name = forms.CharField(label=_("Form name"), max_length=100)
    channel = forms.ChoiceField(label=_("Source channel of new leads"), required=False)
    campaign = forms.CharField(label=_("Campaign"), max_length=200, required=False)
    redirect_url = forms.URLField(
        label=_("Thank-you page URL"),
        required=False,
        help_text=_("Where the visitor goes after sending. Empty: a JSON answer."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["channel"].choices = _channel_choices(_("Not set"))
