"""Forms of the scoring UI. Validation lives in scoring.validation (shared with the API and the
CSV import); the forms only map its field-keyed errors next to the inputs."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from leads.models import Authority, Budget, Timing
from tenants.errors import attach_service_errors
from tenants.outbound import validate_outbound_url

from .models import CountMode, FitField, FitOperator, SegmentColour, UrlMatch
from .validation import validate_behaviour, validate_fit

ACTIVITY_TYPE_SUGGESTIONS = [
    "email_open",
    "email_click",
    "download",
    "page_view",
    "pricing_view",
    "form_start",
    "form_submit",
    "webinar_register",
    "webinar_attend",
    "survey_answer",
    "demo_request",
    "meeting",
]


class BehaviourRuleForm(forms.Form):
    label = forms.CharField(label=_("Item"), max_length=200)
    activity_type = forms.CharField(
        label=_("Activity type"), max_length=60, widget=forms.TextInput(attrs={"list": "activity-types"})
    )
    points = forms.IntegerField(label=_("Points"), help_text=_("Negative points lower the score."))
    url_match = forms.ChoiceField(label=_("URL condition"), choices=UrlMatch.choices, required=False)
    url_value = forms.CharField(label=_("URL text"), max_length=500, required=False)
    content_id = forms.CharField(label=_("Content id"), max_length=200, required=False)
    campaign = forms.CharField(label=_("Campaign"), max_length=200, required=False)
    count_mode = forms.ChoiceField(label=_("Counted"), choices=CountMode.choices, initial=CountMode.ONCE)
    max_count = forms.IntegerField(label=_("At most (times)"), required=False, min_value=1)
    min_count = forms.IntegerField(
        label=_("At least (times)"), required=False, min_value=1, help_text=_("Frequency: e.g. 2 times …")
    )
    window_days = forms.IntegerField(
        label=_("Within (days)"), required=False, min_value=1, help_text=_("… within 7 days.")
    )
    recency_days = forms.IntegerField(label=_("Only the last (days)"), required=False, min_value=1)
    half_life_days = forms.IntegerField(label=_("Points halve every (days)"), required=False, min_value=1)
    description = forms.CharField(label=_("Condition (text)"), max_length=300, required=False)
    note = forms.CharField(label=_("Note"), max_length=300, required=False)

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            validate_behaviour(dict(cleaned))
        except ValidationError as error:
            attach_service_errors(self, error)
        return cleaned


FIELD_CHOICES = [(value, label) for value, label in FitField.choices]
BANT_CHOICES = {
    "authority": [c for c in Authority.choices if c[0]],
    "budget": [c for c in Budget.choices if c[0]],
    "timing": [c for c in Timing.choices if c[0]],
}


class FitRuleForm(forms.Form):
    label = forms.CharField(label=_("Item"), max_length=200)
    field = forms.CharField(
        label=_("Field"),
        max_length=80,
        widget=forms.Select(choices=FIELD_CHOICES),
        help_text=_("Decision authority, need, budget and timing are what sales qualifies on."),
    )
    operator = forms.ChoiceField(label=_("Operator"), choices=FitOperator.choices)
    values = forms.CharField(
        label=_("Values"),
        required=False,
        max_length=1000,
        help_text=_("Separate several with commas. Case and full/half width are ignored."),
    )
    number_min = forms.IntegerField(label=_("From"), required=False)
    number_max = forms.IntegerField(label=_("To"), required=False)
    points = forms.IntegerField(label=_("Points"))
    group = forms.CharField(
        label=_("Group"),
        max_length=100,
        required=False,
        help_text=_("Rules in one group are alternatives: only the best match counts."),
    )
    description = forms.CharField(label=_("Condition (text)"), max_length=300, required=False)
    note = forms.CharField(label=_("Note"), max_length=300, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        current = self.data.get("field") if self.is_bound else self.initial.get("field")
        choices = list(FIELD_CHOICES)
        if current and current not in dict(choices):
            choices.append((current, current))
        self.fields["field"].widget.choices = choices

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            spec = validate_fit(dict(cleaned))
            cleaned["values"] = spec["values"]
        except ValidationError as error:
            attach_service_errors(self, error)
        return cleaned


class SegmentForm(forms.Form):
    key = forms.SlugField(label=_("Key"), max_length=20)
    label = forms.CharField(label=_("Name"), max_length=100)
    min_total = forms.IntegerField(
        label=_("From (points)"), required=False, help_text=_("Leave empty for the lowest segment.")
    )
    colour = forms.ChoiceField(label=_("Colour"), choices=SegmentColour.choices)
    priority = forms.CharField(label=_("Priority"), max_length=100, required=False)
    follow_up = forms.CharField(label=_("Recommended follow-up"), max_length=300, required=False)
    description = forms.CharField(required=False, widget=forms.HiddenInput)


SegmentFormSet = forms.formset_factory(SegmentForm, extra=0, min_num=1, validate_min=True, can_delete=True)


class CapsForm(forms.Form):
    behaviour_cap = forms.IntegerField(label=_("Behaviour score cap"), required=False)
    fit_cap = forms.IntegerField(label=_("Fit score cap"), required=False)


class SheetImportForm(forms.Form):
    file = forms.FileField(
        label=_("Scoring sheet (CSV)"), help_text=_("Columns: スコア種別,項目,条件,配点,備考 — UTF-8 or Shift_JIS.")
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > 1024 * 1024:
            raise ValidationError(_("The file is larger than 1 MB."))
        return upload


class ScoringSettingsForm(forms.Form):
    follow_up_hours = forms.IntegerField(
        label=_("Follow-up deadline (hours)"),
        min_value=1,
        max_value=720,
        help_text=_("Hot leads should be contacted within 24–48 hours."),
    )
    email_alerts = forms.BooleanField(label=_("Email hot-lead alerts"), required=False)
    webhook_url = forms.URLField(
        label=_("Webhook URL"),
        required=False,
        assume_scheme="https",
        # The SSRF policy at save time (delivery checks it again): public https hosts only.
        validators=[validate_outbound_url],
        help_text=_("Optional. Each hot-lead alert is POSTed here as signed JSON."),
    )
    webhook_secret = forms.CharField(
        label=_("Signing secret"),
        required=False,
        max_length=200,
        widget=forms.PasswordInput(render_value=False),
        help_text=_("Leave empty to keep the current secret (one is generated when none is set)."),
    )
