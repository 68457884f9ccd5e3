"""KPIs: the KGI and its plan, KPI targets per period, channel spend, review rules, alerts and the
review log, plus the rollup tables the dashboard reads (all tenant-owned).

Rollups: `LeadFact` keeps one row per lead with its dimensions (channel, campaign, owner) and the day
it first reached each funnel stage; `DailyRollup` counts events per day × channel × campaign × owner
× event; `PeriodRollup` holds the same per week and per month (quarters and years are sums of months).
`kpis.rollups` maintains them incrementally; `RollupState` keeps its watermarks.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from tenants.models import Tenant, TenantOwned


def derived_tenant_field():
    """`tenant` of the derived rollup tables: no per-row foreign-key trigger and no separate index
    (their unique constraints start with tenant_id); a tenant's rows still go with the tenant."""
    return models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="+", editable=False, db_constraint=False, db_index=False
    )


class PeriodType(models.TextChoices):
    YEAR = "year", _("Year")
    QUARTER = "quarter", _("Quarter")
    MONTH = "month", _("Month")
    WEEK = "week", _("Week")


class GoalType(models.TextChoices):
    REVENUE = "revenue", _("Revenue (JPY)")
    WON_DEALS = "won_deals", _("Won deals")


class KpiSettings(TenantOwned):
    """Per-tenant KPI settings (one row, created on first use)."""

    fiscal_year_start_month = models.PositiveSmallIntegerField(
        _("fiscal year starts in month"), default=4, validators=[MinValueValidator(1), MaxValueValidator(12)]
    )
    follow_up_hours = models.PositiveSmallIntegerField(
        _("hot lead follow-up deadline (hours)"), default=48, validators=[MinValueValidator(1), MaxValueValidator(720)]
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("KPI settings")
        verbose_name_plural = _("KPI settings")
        constraints = [models.UniqueConstraint(fields=["tenant"], name="kpisettings_unique_tenant")]


class Kgi(TenantOwned):
    """The goal of a period (KGI): revenue in JPY or a number of won deals, with the planner inputs
    it was derived with (so the plan can be reopened and edited)."""

    period_type = models.CharField(_("period"), max_length=10, choices=PeriodType.choices)
    period_start = models.DateField(_("period start"))
    title = models.CharField(_("title"), max_length=200, blank=True)
    goal_type = models.CharField(_("goal"), max_length=20, choices=GoalType.choices, default=GoalType.REVENUE)
    target_value = models.DecimalField(_("target"), max_digits=16, decimal_places=0)
    company_revenue_target = models.DecimalField(
        _("company revenue target"), max_digits=16, decimal_places=0, null=True, blank=True
    )
    web_share_percent = models.DecimalField(
        _("share from the web (%)"), max_digits=5, decimal_places=2, null=True, blank=True
    )
    plan_inputs = models.JSONField(_("planner inputs"), default=dict, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("KGI")
        verbose_name_plural = _("KGIs")
        ordering = ["-period_start", "period_type"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "period_type", "period_start"], name="kgi_unique_period")
        ]

    def __str__(self) -> str:
        return self.title or f"{self.get_period_type_display()} {self.period_start:%Y/%m/%d}"


class Ksf(TenantOwned):
    """A key success factor under a KGI (free text) and the KPIs that measure it."""

    kgi = models.ForeignKey(Kgi, on_delete=models.CASCADE, related_name="ksfs")
    title = models.CharField(_("key success factor"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    kpis = models.JSONField(_("KPIs"), default=list, blank=True)
    position = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("KSF")
        verbose_name_plural = _("KSFs")
        ordering = ["position", "id"]
        indexes = [models.Index(fields=["tenant", "kgi"], name="ksf_tenant_kgi_idx")]

    def __str__(self) -> str:
        return self.title


class TargetSource(models.TextChoices):
    PLANNER = "planner", _("Reverse planner")
    MANUAL = "manual", _("Entered")


class KpiTarget(TenantOwned):
    """One target per KPI per period (and per channel where the plan splits by channel; '' = all)."""

    kgi = models.ForeignKey(Kgi, on_delete=models.SET_NULL, null=True, blank=True, related_name="targets")
    kpi = models.CharField(_("KPI"), max_length=40)
    channel = models.CharField(_("channel"), max_length=40, blank=True, default="")
    period_type = models.CharField(_("period"), max_length=10, choices=PeriodType.choices)
    period_start = models.DateField(_("period start"))
    target_value = models.DecimalField(_("target"), max_digits=20, decimal_places=4)
    source = models.CharField(max_length=10, choices=TargetSource.choices, default=TargetSource.PLANNER)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("KPI target")
        verbose_name_plural = _("KPI targets")
        ordering = ["period_start", "kpi", "channel"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "kpi", "channel", "period_type", "period_start"], name="kpitarget_unique_period"
            ),
        ]
        indexes = [models.Index(fields=["tenant", "period_type", "period_start"], name="kpitarget_period_idx")]


class ChannelSpend(TenantOwned):
    """Money spent on a channel in a month (entered), for CPA and cost per SQL / won deal."""

    channel = models.CharField(_("channel"), max_length=40)
    month = models.DateField(_("month"))
    amount = models.DecimalField(_("spend (JPY)"), max_digits=14, decimal_places=0, validators=[MinValueValidator(0)])
    note = models.CharField(_("note"), max_length=200, blank=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("channel spend")
        verbose_name_plural = _("channel spend")
        ordering = ["-month", "channel"]
        constraints = [models.UniqueConstraint(fields=["tenant", "channel", "month"], name="channelspend_unique_month")]


class RuleKind(models.TextChoices):
    MISSED = "missed", _("Target missed for consecutive periods")
    MOVED = "moved", _("Moved sharply period over period")


class ReviewRule(TenantOwned):
    """A tenant-editable review rule (seed defaults: missed 2 months → review the KPI;
    moved ≥ 20 % → analyse the cause)."""

    kind = models.CharField(_("rule"), max_length=10, choices=RuleKind.choices)
    period_type = models.CharField(
        _("checked per"), max_length=10, choices=PeriodType.choices, default=PeriodType.MONTH
    )
    consecutive_periods = models.PositiveSmallIntegerField(
        _("consecutive periods"), default=2, validators=[MinValueValidator(1), MaxValueValidator(12)]
    )
    change_percent = models.DecimalField(
        _("change threshold (%)"),
        max_digits=6,
        decimal_places=1,
        default=20,
        validators=[MinValueValidator(1), MaxValueValidator(1000)],
    )
    kpis = models.JSONField(_("KPIs"), default=list, blank=True)
    notify_roles = models.JSONField(_("notify roles"), default=list, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("review rule")
        verbose_name_plural = _("review rules")
        ordering = ["kind", "id"]


class ReviewAlert(TenantOwned):
    """One occurrence of a review rule for a KPI. The unique constraint makes it fire once."""

    rule = models.ForeignKey(ReviewRule, on_delete=models.CASCADE, related_name="alerts")
    kind = models.CharField(max_length=10, choices=RuleKind.choices)
    kpi = models.CharField(max_length=40)
    period_type = models.CharField(max_length=10, choices=PeriodType.choices)
    # The occurrence: for "missed", the first period of the streak; for "moved", the period that moved.
    occurrence_start = models.DateField()
    last_period_start = models.DateField()
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("review alert")
        verbose_name_plural = _("review alerts")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "rule", "kpi", "occurrence_start"], name="reviewalert_once"),
        ]


class ReviewStatus(models.TextChoices):
    OPEN = "open", _("Open")
    DONE = "done", _("Done")


class ReviewLogEntry(TenantOwned):
    """A decision taken in the review meeting: what was found, the action, who, by when."""

    period_type = models.CharField(_("period"), max_length=10, choices=PeriodType.choices)
    period_start = models.DateField(_("period start"))
    kpi = models.CharField(_("KPI"), max_length=40, blank=True)
    finding = models.TextField(_("finding"), blank=True)
    action = models.TextField(_("decided action"))
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    due_on = models.DateField(_("due date"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=ReviewStatus.choices, default=ReviewStatus.OPEN)
    alert = models.ForeignKey(ReviewAlert, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("review log entry")
        verbose_name_plural = _("review log")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["tenant", "period_type", "period_start"], name="reviewlog_period_idx"),
            models.Index(fields=["tenant", "-created_at"], name="reviewlog_created_idx"),
        ]


# --------------------------------------------------------------------------------------------- rollups


class LeadFact(TenantOwned):
    """A lead as the rollups counted it: dimensions and the local day it first reached each stage.

    Also the snapshot the incremental refresh diffs against (old contribution out, new in)."""

    tenant = derived_tenant_field()
    lead_id = models.BigIntegerField()
    channel = models.CharField(max_length=40, blank=True)
    campaign = models.CharField(max_length=200, blank=True)
    owner_id = models.BigIntegerField(default=0)  # 0 = unassigned
    acquired_on = models.DateField(null=True)
    mql_on = models.DateField(null=True)
    sql_on = models.DateField(null=True)
    opportunity_on = models.DateField(null=True)
    won_on = models.DateField(null=True)
    meeting_on = models.DateField(null=True)
    nurture_days = models.DecimalField(max_digits=12, decimal_places=2, null=True)
    activity_count = models.IntegerField(default=0)
    feedback_count = models.IntegerField(default=0)
    # Span of the lead's activity/feedback days: what to recount if the lead disappears.
    first_row_on = models.DateField(null=True)
    last_row_on = models.DateField(null=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "lead_id"], name="leadfact_unique_lead")]


class DailyRollup(TenantOwned):
    """Event counts per local day × channel × campaign × owner × event (see kpis.rollups)."""

    tenant = derived_tenant_field()
    day = models.DateField()
    event = models.CharField(max_length=48)
    channel = models.CharField(max_length=40, blank=True)
    campaign = models.CharField(max_length=200, blank=True)
    owner_id = models.BigIntegerField(default=0)
    count = models.BigIntegerField(default=0)
    value = models.DecimalField(max_digits=20, decimal_places=2, default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "day", "event", "channel", "campaign", "owner_id"], name="dailyrollup_unique_key"
            ),
        ]


class RollupLevel(models.IntegerChoices):
    """Pre-aggregated levels of PeriodRollup (grouping sets), so that the dashboard reads a few
    hundred rows whatever the filter: the total, by one dimension, or the full detail."""

    TOTAL = 0
    CHANNEL = 1
    CAMPAIGN = 2
    OWNER = 3
    DETAIL = 4
    CHANNEL_OWNER = 5  # "my leads in this channel", the common combined filter


class PeriodRollup(TenantOwned):
    """DailyRollup summed per week (Monday start) and per calendar month, in the tenant's timezone,
    at every level of RollupLevel (dimensions not in the level are '' / 0)."""

    tenant = derived_tenant_field()
    period_type = models.CharField(max_length=10, choices=PeriodType.choices)
    period_start = models.DateField()
    level = models.PositiveSmallIntegerField(choices=RollupLevel.choices, default=RollupLevel.DETAIL)
    event = models.CharField(max_length=48)
    channel = models.CharField(max_length=40, blank=True)
    campaign = models.CharField(max_length=200, blank=True)
    owner_id = models.BigIntegerField(default=0)
    count = models.BigIntegerField(default=0)
    value = models.DecimalField(max_digits=20, decimal_places=2, default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "period_type", "level", "period_start", "event", "channel", "campaign", "owner_id"],
                name="periodrollup_unique_key",
            ),
        ]


class RollupState(TenantOwned):
    """Watermarks of the incremental rollup refresh (one row per tenant)."""

    last_lead_id = models.BigIntegerField(default=0)
    last_activity_id = models.BigIntegerField(default=0)
    last_stage_change_id = models.BigIntegerField(default=0)
    last_feedback_id = models.BigIntegerField(default=0)
    last_merge_id = models.BigIntegerField(default=0)
    last_dirty_id = models.BigIntegerField(default=0)
    # The maxima seen by the refresh before the last one: the next refresh scans from there, so
    # every new row is looked at by two refreshes (rows of transactions that commit late).
    scan_from = models.JSONField(default=dict)
    leads_checked_at = models.DateTimeField(null=True)
    timezone = models.CharField(max_length=64, blank=True)
    needs_full = models.BooleanField(default=True)
    last_refresh_at = models.DateTimeField(null=True)
    last_refresh_ms = models.IntegerField(default=0)
    last_refresh_mode = models.CharField(max_length=12, blank=True)
    last_sweep_at = models.DateTimeField(null=True)
    last_full_at = models.DateTimeField(null=True)
    last_full_ms = models.IntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant"], name="rollupstate_unique_tenant")]


class DirtyLead(TenantOwned):
    """Leads reported changed through `leads.hooks` since the last refresh (consumed by it)."""

    lead_id = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["tenant", "lead_id"], name="dirtylead_tenant_lead_idx")]
