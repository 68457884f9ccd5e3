"""Forms of the diagnostics pages (validation only; writes go through services)."""

from __future__ import annotations

from datetime import datetime

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .models import AnswerValue, Side
from .services import NOTE_MAX_LENGTH, TITLE_MAX_LENGTH


class AssessmentStartForm(forms.Form):
    template = forms.ChoiceField(
        label=_("Checklist"),
        error_messages={
            "required": _("Choose one of the checklists."),
            "invalid_choice": _("Choose one of the checklists."),
        },
    )
    title = forms.CharField(
        label=_("Title"),
        max_length=TITLE_MAX_LENGTH,
        required=False,
        help_text=_("e.g. “Q3 review with the sales team”"),
    )

    def __init__(self, *args, templates=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["template"].choices = [(t.key, t.name) for t in templates]


class AnswerForm(forms.Form):
    value = forms.ChoiceField(
        label=_("Answer"),
        choices=AnswerValue.choices,
        error_messages={
            "required": _("Choose yes, partly, no or not applicable."),
            "invalid_choice": _("Choose yes, partly, no or not applicable."),
        },
    )
    note = forms.CharField(
        label=_("Your note"),
        required=False,
        max_length=NOTE_MAX_LENGTH,
        widget=forms.Textarea,
        error_messages={"max_length": _("Keep the note under %(limit_value)s characters.")},
    )


class SideForm(forms.Form):
    side = forms.ChoiceField(
        label=_("Answering for"),
        choices=[(Side.MARKETING, Side.MARKETING.label), (Side.SALES, Side.SALES.label)],
        error_messages={"required": _("Choose marketing or sales."), "invalid_choice": _("Choose marketing or sales.")},
    )


class CompareForm(forms.Form):
    a = forms.IntegerField(
        label=_("Earlier assessment"),
        error_messages={
            "required": _("Choose two assessments to compare."),
            "invalid": _("Choose two assessments to compare."),
        },
    )
    b = forms.IntegerField(
        label=_("Later assessment"),
        error_messages={
            "required": _("Choose two assessments to compare."),
            "invalid": _("Choose two assessments to compare."),
        },
    )


def refresh_marker(params) -> tuple[datetime | None, int]:
    """The health card's "waiting since" marker and poll count (`?since=<aware ISO time>&n=<polls>`);
    no marker is (None, 0)."""
    if not params.get("since"):
        return None, 0
    try:
        since = datetime.fromisoformat(params["since"])
        polls = int(params.get("n", "0"))
    except ValueError:
        raise ValidationError(gettext("Invalid refresh marker.")) from None
    if timezone.is_naive(since):
        raise ValidationError(gettext("Invalid refresh marker."))
    return since, polls
