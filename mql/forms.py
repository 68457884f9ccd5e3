"""Forms of the MQL app. Validation of conditions lives in services.clean_conditions (one place
for the UI, the API and imports); forms only shape the input and attach errors to fields."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from leads.models import FeedbackOutcome, Stage
from tenants.errors import attach_service_errors
from tenants.models import Role
from tenants.params import date_in_range

from . import services
from .models import REQUIRED_INFO_CHOICES, SEGMENT_CHOICES, CalibrationTarget, MqlDefinition, ReasonKind, ScoreMode

LIST_HELP = _("Separate entries with commas or new lines.")


def _join(values) -> str:
    return ", ".join(values or [])


class DefinitionForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200, required=False)
    min_score = forms.CharField(
        label=_("Minimum total score"),
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "size": 6}),
        help_text=_("Leave empty to qualify on segment or information only."),
    )
    segments = forms.MultipleChoiceField(
        label=_("Segments"), choices=SEGMENT_CHOICES, required=False, widget=forms.CheckboxSelectMultiple
    )
    score_mode = forms.ChoiceField(
        label=_("When both are set"),
        choices=ScoreMode.choices,
        initial=ScoreMode.ANY,
        required=False,
        widget=forms.RadioSelect,
    )
    required_info = forms.MultipleChoiceField(
        label=_("Required qualifying information"),
        choices=REQUIRED_INFO_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Every checked item must be known for the lead to qualify."),
    )
    high_intent_activity_types = forms.CharField(
        label=_("High-intent activity types"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Any of these qualifies a lead immediately, whatever its score. %(help)s") % {"help": LIST_HELP},
    )
    high_intent_form_keys = forms.CharField(
        label=_("High-intent form keys"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Forms such as demo, trial, prototype or factory visit requests. %(help)s") % {"help": LIST_HELP},
    )
    high_intent_days = forms.CharField(
        label=_("High-intent window (days)"),
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "size": 5}),
        help_text=_("Only actions in the last N days count. Empty: any time."),
    )
    competitor_domains = forms.CharField(
        label=_("Competitor domains"), required=False, widget=forms.Textarea(attrs={"rows": 2}), help_text=LIST_HELP
    )
    exclude_free_mail = forms.BooleanField(label=_("Exclude free-mail addresses"), required=False)
    free_mail_domains = forms.CharField(
        label=_("Free-mail domains"), required=False, widget=forms.Textarea(attrs={"rows": 3}), help_text=LIST_HELP
    )
    exclude_students = forms.BooleanField(label=_("Exclude students and job seekers"), required=False)
    exclude_customers = forms.BooleanField(label=_("Exclude existing customers"), required=False)
    exclude_unsubscribed = forms.BooleanField(label=_("Exclude unsubscribed leads"), required=False)
    sql_criteria = forms.CharField(
        label=_("SQL acceptance criteria (in words)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("What sales checks before accepting a lead, so both teams read the same page."),
    )

    @classmethod
    def initial_for(cls, definition: MqlDefinition) -> dict:
        data = definition.conditions()
        data["title"] = definition.title
        for name in ("high_intent_activity_types", "high_intent_form_keys", "competitor_domains", "free_mail_domains"):
            data[name] = _join(data[name])
        for name in ("min_score", "high_intent_days"):
            data[name] = "" if data[name] is None else str(data[name])
        return data

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            self.conditions = services.clean_conditions(cleaned)
        except ValidationError as error:
            attach_service_errors(self, error)
        return cleaned


class CommentForm(forms.Form):
    body = forms.CharField(label=_("Comment"), max_length=4000, widget=forms.Textarea(attrs={"rows": 3}))


class ApprovalForm(forms.Form):
    note = forms.CharField(label=_("Note (optional)"), max_length=500, required=False)


class ApprovalPolicyForm(forms.Form):
    required_roles = forms.MultipleChoiceField(
        label=_("Roles that must approve"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        choices=[
            (Role.MARKETING, Role.MARKETING.label),
            (Role.SALES, Role.SALES.label),
            (Role.ADMIN, Role.ADMIN.label),
        ],
        help_text=_("At least one member of each checked role must approve a draft."),
    )
    required_approver_ids = forms.MultipleChoiceField(
        label=_("Members who must approve"), required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args, members=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["required_approver_ids"].choices = [
            (str(m.user_id), f"{m.user.display_name} ({m.get_role_display()})") for m in members
        ]


class OutcomeForm(forms.Form):
    """One-click outcome from the inbox; the service validates the combination."""

    outcome = forms.ChoiceField(choices=FeedbackOutcome.choices)
    reason = forms.CharField(required=False, max_length=60)
    stage = forms.ChoiceField(
        required=False,
        choices=[("", "—"), (Stage.RECYCLED, Stage.RECYCLED.label), (Stage.DISQUALIFIED, Stage.DISQUALIFIED.label)],
    )
    note = forms.CharField(required=False, max_length=4000)
    amount = forms.CharField(required=False, max_length=30)
    expected_close_on = forms.CharField(required=False, max_length=30)
    occurred_at = forms.CharField(required=False, max_length=40)


class ReasonForm(forms.Form):
    label_ja = forms.CharField(label=_("Label (Japanese)"), max_length=100)
    label_en = forms.CharField(label=_("Label (English)"), max_length=100)
    kind = forms.ChoiceField(label=_("Used for"), choices=ReasonKind.choices, initial=ReasonKind.BOTH)
    default_stage = forms.ChoiceField(
        label=_("Lead goes to"),
        initial=Stage.RECYCLED,
        choices=[(Stage.RECYCLED, Stage.RECYCLED.label), (Stage.DISQUALIFIED, Stage.DISQUALIFIED.label)],
    )
    requires_note = forms.BooleanField(label=_("Free text required"), required=False)
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)


class CalibrationForm(forms.Form):
    target = forms.ChoiceField(
        label=_("Learn from"),
        choices=CalibrationTarget.choices,
        initial=CalibrationTarget.WON,
        widget=forms.RadioSelect,
    )


class ReportPeriodForm(forms.Form):
    start = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def _clean_day(self, name: str):
        day = self.cleaned_data.get(name)
        if day is not None and not date_in_range(day):
            raise ValidationError(_("Choose a date between 2000 and 2100."))
        return day

    def clean_start(self):
        return self._clean_day("start")

    def clean_end(self):
        return self._clean_day("end")

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("start") and cleaned.get("end") and cleaned["start"] > cleaned["end"]:
            raise ValidationError(_("The start date must be before the end date."))
        return cleaned
