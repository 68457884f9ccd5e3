"""Forms: parse and validate input in the user's language; the services do the writing.

Amount fields accept what people type in Japan: 5,000万, 50億, ¥1,250,000, full-width digits.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from decimal import Decimal, InvalidOperation

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from tenants.models import Role
from tenants.params import MAX_ID, parse_id, parse_int

from .catalog import KPIS, kpi_choices
from .models import GoalType, PeriodType, ReviewStatus
from .periods import Period, date_in_range
from .planning import RATE_FIELDS, ChannelInput, PlanInputs

UNITS = {"億": Decimal(10) ** 8, "万": Decimal(10) ** 4, "千": Decimal(1000)}
MAX_DIGITS = 16


def parse_amount(raw) -> Decimal | None:
    """'5,000万' → 50000000, '50億' → 5000000000, '1億2,500万円' → 125000000, '¥1,250,000' → 1250000."""
    if raw is None:
        return None
    text = unicodedata.normalize("NFKC", str(raw)).strip()
    text = text.replace(",", "").replace("¥", "").replace("円", "").replace(" ", "").replace("_", "")
    if text == "":
        return None
    if re.fullmatch(r"-?\d+(\.\d+)?", text):
        return Decimal(text)
    total = Decimal(0)
    rest = text
    for unit, size in UNITS.items():
        if unit in rest:
            head, rest = rest.split(unit, 1)
            if not re.fullmatch(r"\d+(\.\d+)?", head):
                raise ValueError(text)
            total += Decimal(head) * size
    if rest:
        if not re.fullmatch(r"\d+(\.\d+)?", rest):
            raise ValueError(text)
        total += Decimal(rest)
    return total


def format_amount(value) -> str:
    """An amount for an input, the way it is typed in the user's language: 50億, 2億4500万, 333万
    (Japanese) or 5,000,000,000 (English). parse_amount() reads both back."""
    from django.utils.translation import get_language

    if value in (None, ""):
        return ""
    number = Decimal(str(value))
    if number != number.to_integral_value() or number < 0:
        text = f"{number:f}"
        return text.rstrip("0").rstrip(".") if "." in text else text
    number = int(number)
    if not (get_language() or "ja").startswith("ja") or number < 10000 or number % 10000:
        return f"{number:,}"
    oku, rest = divmod(number, 10**8)
    man = rest // 10000
    return (f"{oku}億" if oku else "") + (f"{man}万" if man else "")


class AmountField(forms.CharField):
    """Yen (or a count) typed freely; cleaned to a Decimal."""

    def __init__(self, *args, min_value: Decimal | None = Decimal(0), max_value: Decimal | None = None, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", 40)
        super().__init__(*args, **kwargs)
        self.min_value, self.max_value = min_value, max_value
        self.widget.attrs.setdefault("inputmode", "decimal")
        self.widget.attrs.setdefault("autocomplete", "off")

    def clean(self, value):
        value = super().clean(value)
        try:
            number = parse_amount(value)
        except (ValueError, InvalidOperation):
            raise ValidationError(_("Enter a number, e.g. 5000万 or 12,500,000."), code="invalid")
        if number is None:
            return None
        if abs(number) >= Decimal(10) ** MAX_DIGITS:
            raise ValidationError(_("This number is too large."), code="max_value")
        if self.min_value is not None and number < self.min_value:
            raise ValidationError(_("Enter %(min)s or more.") % {"min": f"{self.min_value:,}"}, code="min_value")
        if self.max_value is not None and number > self.max_value:
            raise ValidationError(_("Enter %(max)s or less.") % {"max": f"{self.max_value:,}"}, code="max_value")
        return number


class PercentField(AmountField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_value", Decimal(100))
        super().__init__(*args, **kwargs)

    def clean(self, value):
        if isinstance(value, str):
            value = unicodedata.normalize("NFKC", value).replace("%", "").strip()
        try:
            return super().clean(value)
        except ValidationError as error:
            # Errors from the CharField validators (e.g. max_length) arrive as a list without a code.
            if getattr(error, "code", None) == "invalid":
                raise ValidationError(_("Enter a percentage, e.g. 20 or 12.5."), code="invalid")
            raise


# -------------------------------------------------------------------------------------- period & filters


class PeriodForm(forms.Form):
    period = forms.ChoiceField(label=_("Period"), choices=PeriodType.choices, required=False)
    date = forms.DateField(label=_("Date"), required=False, input_formats=["%Y-%m-%d", "%Y/%m/%d", "%Y-%m"])

    allowed_kinds = ("week", "month", "quarter", "year")

    def __init__(self, *args, default_kind: str = "month", today: dt.date, fiscal_start_month: int = 4, **kwargs):
        super().__init__(*args, **kwargs)
        self.default_kind, self.today, self.fiscal_start_month = default_kind, today, fiscal_start_month
        self.fields["period"].choices = [(k, v) for k, v in PeriodType.choices if k in self.allowed_kinds]

    def clean_date(self):
        day = self.cleaned_data.get("date")
        if day is not None and not date_in_range(day):
            raise ValidationError(_("Choose a date between 2000 and 2100."))
        return day

    def period_value(self) -> Period:
        kind = self.cleaned_data.get("period") or self.default_kind
        day = self.cleaned_data.get("date") or self.today
        return Period.containing(kind, day, self.fiscal_start_month)


class DashboardForm(PeriodForm):
    channel = forms.CharField(label=_("Channel"), required=False, max_length=40)
    campaign = forms.CharField(label=_("Campaign"), required=False, max_length=200)
    owner = forms.CharField(label=_("Owner"), required=False, max_length=20)

    def __init__(self, *args, member_ids: set[int], **kwargs):
        super().__init__(*args, **kwargs)
        self.member_ids = member_ids

    def clean_owner(self):
        raw = (self.cleaned_data.get("owner") or "").strip()
        if raw == "":
            return None
        owner = parse_int(raw, minimum=0, maximum=MAX_ID)  # 0: leads without an owner
        if owner is None or (owner != 0 and owner not in self.member_ids):
            raise ValidationError(_("Choose an owner from the list."))
        return owner


class PlanPeriodForm(PeriodForm):
    allowed_kinds = ("month", "quarter", "year")


# -------------------------------------------------------------------------------------- planner


class PlannerForm(forms.Form):
    """The planner's inputs. Domain checks (zero rates, shares) come from planning.reverse_plan."""

    title = forms.CharField(label=_("Title"), required=False, max_length=200)
    goal_type = forms.ChoiceField(
        label=_("Goal"), choices=GoalType.choices, initial=GoalType.REVENUE, widget=forms.RadioSelect
    )
    revenue_target = AmountField(label=_("Revenue target (from the web)"))
    company_revenue = AmountField(label=_("Company revenue target"))
    web_share_percent = PercentField(label=_("Share from the web"))
    won_deals_target = AmountField(label=_("Won deals"))
    avg_deal_size = AmountField(label=_("Average deal size"))
    win_rate = PercentField(label=_("Win rate"))
    sql_to_opportunity_rate = PercentField(label=_("Opportunity rate (SQL → opportunity)"))
    mql_to_sql_rate = PercentField(label=_("MQL → SQL rate"))
    lead_to_mql_rate = PercentField(label=_("Lead → MQL rate"))

    def __init__(self, *args, channels: list[dict], **kwargs):
        super().__init__(*args, **kwargs)
        self.channel_rows = channels
        for index, row in enumerate(channels):
            self.fields[f"channel-{index}-key"] = forms.CharField(
                required=False, max_length=40, widget=forms.HiddenInput, initial=row["channel"]
            )
            self.fields[f"channel-{index}-share_percent"] = PercentField(label=_("Share"), initial=row.get("share"))
            self.fields[f"channel-{index}-cpa"] = AmountField(label=_("Cost per lead"), initial=row.get("cpa"))

    def channel_fields(self):
        """[(row, share bound field, cpa bound field)] for the template."""
        return [
            (row, self[f"channel-{i}-key"], self[f"channel-{i}-share_percent"], self[f"channel-{i}-cpa"])
            for i, row in enumerate(self.channel_rows)
        ]

    def plan_inputs(self) -> PlanInputs:
        data = self.cleaned_data
        channels = []
        for index, row in enumerate(self.channel_rows):
            key = data.get(f"channel-{index}-key") or row["channel"]
            share = data.get(f"channel-{index}-share_percent")
            cpa = data.get(f"channel-{index}-cpa")
            if share is None and cpa is None:
                continue
            channels.append(ChannelInput(channel=key, label=row.get("label", key), share_percent=share, cpa=cpa))
        goal = data.get("goal_type") or GoalType.REVENUE
        return PlanInputs(
            goal_type=goal,
            revenue_target=data.get("revenue_target"),
            company_revenue=data.get("company_revenue") if goal == GoalType.REVENUE else None,
            web_share_percent=data.get("web_share_percent") if goal == GoalType.REVENUE else None,
            won_deals_target=data.get("won_deals_target"),
            avg_deal_size=data.get("avg_deal_size"),
            **{name: data.get(name) for name in RATE_FIELDS},
            channels=channels,
        )

    def add_plan_errors(self, errors: dict[str, str]) -> None:
        for key, message in errors.items():
            if key in self.fields:
                self.add_error(key, message)
            else:
                self.add_error(None, message)


# -------------------------------------------------------------------------------------- tree, targets


class KsfForm(forms.Form):
    title = forms.CharField(label=_("Key success factor"), max_length=200)
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    kpis = forms.MultipleChoiceField(
        label=_("KPIs that measure it"), required=False, choices=kpi_choices, widget=forms.CheckboxSelectMultiple
    )


class TargetForm(forms.Form):
    kpi = forms.ChoiceField(label=_("KPI"), choices=kpi_choices)
    value = AmountField(label=_("Target"), required=False)

    def clean(self):
        data = super().clean()
        code, value = data.get("kpi"), data.get("value")
        if code in KPIS and value is not None and KPIS[code].unit == "percent" and value > 100:
            self.add_error("value", _("A rate target is at most 100 %."))
        return data


# -------------------------------------------------------------------------------------- spend


class SpendForm(forms.Form):
    """A grid of amounts, fields named spend__<channel>__<YYYY-MM>."""

    def __init__(self, *args, channels: list[str], months: list[dt.date], initial_amounts: dict, **kwargs):
        super().__init__(*args, **kwargs)
        self.channels, self.months = channels, months
        for channel in channels:
            for month in months:
                name = self.field_name(channel, month)
                self.fields[name] = AmountField(
                    label=f"{channel} {month:%Y/%m}", initial=initial_amounts.get((channel, month))
                )
        self.fields["new_channel"] = forms.CharField(label=_("Add a channel"), required=False, max_length=40)

    @staticmethod
    def field_name(channel: str, month: dt.date) -> str:
        return f"spend__{channel}__{month:%Y-%m}"

    def clean_new_channel(self):
        value = (self.cleaned_data.get("new_channel") or "").strip()
        if value and not re.fullmatch(r"[\w\-]{1,40}", value):
            raise ValidationError(_("Use letters, digits, hyphens or underscores."))
        return value

    def entries(self) -> list[tuple[str, dt.date, Decimal | None]]:
        out = []
        for channel in self.channels:
            for month in self.months:
                name = self.field_name(channel, month)
                if name in self.changed_data:
                    out.append((channel, month, self.cleaned_data.get(name)))
        return out

    def grid(self):
        return [(channel, [self[self.field_name(channel, m)] for m in self.months]) for channel in self.channels]


# -------------------------------------------------------------------------------------- review


class ReviewEntryForm(forms.Form):
    kpi = forms.ChoiceField(label=_("KPI"), required=False)
    finding = forms.CharField(
        label=_("What we found"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )
    action = forms.CharField(label=_("Decided action"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))
    owner = forms.ChoiceField(label=_("Owner"), required=False)
    due_on = forms.DateField(label=_("Due date"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    alert = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, members: list, **kwargs):
        super().__init__(*args, **kwargs)
        self.members = {m.pk: m for m in members}
        self.fields["kpi"].choices = [("", _("(whole dashboard)")), *kpi_choices()]
        self.fields["owner"].choices = [("", _("(not decided)"))] + [(m.pk, m.display_name) for m in members]

    def clean_owner(self):
        raw = self.cleaned_data.get("owner")
        if not raw:
            return None
        try:
            return self.members[parse_id(raw)]
        except KeyError:
            raise ValidationError(_("Choose a member of this workspace."))

    def clean_due_on(self):
        day = self.cleaned_data.get("due_on")
        if day is not None and not date_in_range(day):
            raise ValidationError(_("Choose a date between 2000 and 2100."))
        return day


class ReviewStatusForm(forms.Form):
    status = forms.ChoiceField(choices=ReviewStatus.choices)


class ReviewRuleForm(forms.Form):
    is_active = forms.BooleanField(label=_("Active"), required=False)
    period_type = forms.ChoiceField(
        label=_("Checked per"), choices=[("week", _("Week")), ("month", _("Month")), ("quarter", _("Quarter"))]
    )
    consecutive_periods = forms.IntegerField(label=_("Consecutive periods missed"), min_value=1, max_value=12)
    change_percent = forms.DecimalField(
        label=_("Change threshold (%)"), min_value=1, max_value=1000, decimal_places=1, max_digits=6
    )
    kpis = forms.MultipleChoiceField(
        label=_("KPIs (none = all with a target / the shared KPIs)"),
        required=False,
        choices=kpi_choices,
        widget=forms.CheckboxSelectMultiple,
    )
    notify_roles = forms.MultipleChoiceField(
        label=_("Notify"), required=False, choices=Role.choices, widget=forms.CheckboxSelectMultiple
    )


def _month_choices():
    from django.utils.translation import gettext

    return [(m, gettext("Month %(m)s") % {"m": m}) for m in range(1, 13)]


class KpiSettingsForm(forms.Form):
    fiscal_year_start_month = forms.TypedChoiceField(
        label=_("Fiscal year starts in"), coerce=int, choices=_month_choices
    )
    follow_up_hours = forms.IntegerField(label=_("Hot lead follow-up deadline (hours)"), min_value=1, max_value=720)
