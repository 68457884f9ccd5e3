"""Scoring: versioned scoring models (behaviour rules, fit rules, segments), recompute runs,
segment transitions and hot-lead alerts. All tenant-owned.

Sections: (1) scoring model and its rules, (2) runs and results, (3) alerts and settings.
The MQL definition, sales feedback and calibration (issue 5) add their own section below.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from leads.models import Lead
from tenants.models import TenantOwned
from tenants.outbound import validate_outbound_url

# --------------------------------------------------------------------------------------------
# (1) Scoring model and its rules
# --------------------------------------------------------------------------------------------


class ModelStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    ACTIVE = "active", _("Active")
    ARCHIVED = "archived", _("Archived")


class ScoringModel(TenantOwned):
    """One version of a tenant's scoring rules. Exactly one is active; at most one draft.

    Published versions are immutable (services refuse to edit them); editing happens on the
    draft, publishing archives the previous active version, rollback publishes a copy of an
    older version, so every version number ever used keeps meaning the same rules.
    """

    version = models.PositiveIntegerField(_("version"))
    status = models.CharField(_("status"), max_length=10, choices=ModelStatus.choices, default=ModelStatus.DRAFT)
    name = models.CharField(_("name"), max_length=200, blank=True)
    note = models.TextField(_("note"), blank=True)
    behaviour_cap = models.IntegerField(_("behaviour score cap"), null=True, blank=True)
    fit_cap = models.IntegerField(_("fit score cap"), null=True, blank=True)
    based_on_version = models.PositiveIntegerField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("scoring model")
        verbose_name_plural = _("scoring models")
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "version"], name="scoringmodel_unique_version"),
            models.UniqueConstraint(fields=["tenant"], condition=Q(status="active"), name="scoringmodel_one_active"),
            models.UniqueConstraint(fields=["tenant"], condition=Q(status="draft"), name="scoringmodel_one_draft"),
        ]

    def __str__(self) -> str:
        return f"v{self.version} ({self.status})"

    @property
    def is_draft(self) -> bool:
        return self.status == ModelStatus.DRAFT


class CountMode(models.TextChoices):
    ONCE = "once", _("Once")
    EVERY = "every", _("Every time")
    AT_MOST = "at_most", _("At most N times")


class UrlMatch(models.TextChoices):
    NONE = "", _("Any URL")
    CONTAINS = "contains", _("URL contains")
    EQUALS = "equals", _("URL equals")


class BehaviourRule(TenantOwned):
    """Points for activities of one type (optionally narrowed by URL, content id, campaign).

    Counting: once / every time / at most N times. Optional frequency condition (N+ matching
    activities within any `window_days`), recency (only the last `recency_days` count) and
    decay (each activity's points halve every `half_life_days`).
    """

    model = models.ForeignKey(ScoringModel, on_delete=models.CASCADE, related_name="behaviour_rules")
    position = models.PositiveIntegerField(default=0)
    label = models.CharField(_("item"), max_length=200)
    description = models.CharField(_("condition"), max_length=300, blank=True)
    note = models.CharField(_("note"), max_length=300, blank=True)
    activity_type = models.CharField(_("activity type"), max_length=60)
    url_match = models.CharField(_("URL condition"), max_length=10, choices=UrlMatch.choices, blank=True)
    url_value = models.CharField(_("URL text"), max_length=500, blank=True)
    content_id = models.CharField(_("content id"), max_length=200, blank=True)
    campaign = models.CharField(_("campaign"), max_length=200, blank=True)
    points = models.IntegerField(_("points"))
    count_mode = models.CharField(_("counted"), max_length=10, choices=CountMode.choices, default=CountMode.ONCE)
    max_count = models.PositiveIntegerField(_("at most (times)"), null=True, blank=True)
    min_count = models.PositiveIntegerField(_("at least (times)"), null=True, blank=True)
    window_days = models.PositiveIntegerField(_("within (days)"), null=True, blank=True)
    recency_days = models.PositiveIntegerField(_("only the last (days)"), null=True, blank=True)
    half_life_days = models.PositiveIntegerField(_("points halve every (days)"), null=True, blank=True)

    class Meta:
        verbose_name = _("behaviour rule")
        verbose_name_plural = _("behaviour rules")
        ordering = ["position", "id"]
        indexes = [models.Index(fields=["tenant", "model", "position"], name="behaviourrule_model_idx")]

    def __str__(self) -> str:
        return self.label

    @property
    def is_frequency(self) -> bool:
        return bool(self.min_count and self.window_days)


class FitField(models.TextChoices):
    # The qualifying fields (BANT) first: scoring on behaviour alone rewards mere browsing.
    AUTHORITY = "authority", _("Decision authority")
    NEED = "need", _("Need / challenge")
    BUDGET = "budget", _("Budget")
    TIMING = "timing", _("Timing")
    TITLE = "title", _("Job title")
    DEPARTMENT = "department", _("Department")
    EMPLOYEE_COUNT = "employee_count", _("Employees")
    SIZE_BAND = "size_band", _("Company size band")
    INDUSTRY = "industry", _("Industry")
    COMPANY = "company", _("Company")
    CHANNEL = "channel", _("Source channel")
    CAMPAIGN = "campaign", _("Campaign")
    EMAIL_DOMAIN = "email_domain", _("Email domain")


BANT_FIELDS = ("authority", "need", "budget", "timing")
NUMBER_FIELDS = ("employee_count",)


class FitOperator(models.TextChoices):
    EQUALS = "equals", _("equals")
    IN = "in", _("is one of")
    CONTAINS_ANY = "contains_any", _("contains any of")
    RANGE = "range", _("number between")
    IS_SET = "is_set", _("is set")
    IS_EMPTY = "is_empty", _("is empty")


class FitRule(TenantOwned):
    """Points for a lead attribute. Rules sharing a `group` are alternatives: only the
    highest-scoring matching rule of the group counts (e.g. 役職: 経営者 30 / 部長 20 / 担当 10,
    so 「取締役部長」 scores 30, not 50). `field` may be `custom:<key>` for a custom field."""

    model = models.ForeignKey(ScoringModel, on_delete=models.CASCADE, related_name="fit_rules")
    position = models.PositiveIntegerField(default=0)
    label = models.CharField(_("item"), max_length=200)
    description = models.CharField(_("condition"), max_length=300, blank=True)
    note = models.CharField(_("note"), max_length=300, blank=True)
    group = models.CharField(_("group"), max_length=100, blank=True)
    field = models.CharField(_("field"), max_length=80)
    operator = models.CharField(_("operator"), max_length=20, choices=FitOperator.choices)
    values = models.JSONField(_("values"), default=list, blank=True)
    number_min = models.BigIntegerField(_("from"), null=True, blank=True)
    number_max = models.BigIntegerField(_("to"), null=True, blank=True)
    points = models.IntegerField(_("points"))

    class Meta:
        verbose_name = _("fit rule")
        verbose_name_plural = _("fit rules")
        ordering = ["position", "id"]
        indexes = [models.Index(fields=["tenant", "model", "position"], name="fitrule_model_idx")]

    def __str__(self) -> str:
        return self.label


class SegmentColour(models.TextChoices):
    RED = "red", _("Warm red")
    AMBER = "amber", _("Amber")
    BLUE_GREY = "blue-grey", _("Blue-grey")
    GREEN = "green", _("Green")
    PURPLE = "purple", _("Purple")


class SegmentDefinition(TenantOwned):
    """A named band of the total score: the lead is in the segment with the highest
    `min_total` not above its total (the lowest segment has no minimum)."""

    model = models.ForeignKey(ScoringModel, on_delete=models.CASCADE, related_name="segments")
    key = models.SlugField(_("key"), max_length=20)
    label = models.CharField(_("name"), max_length=100)
    description = models.CharField(_("condition"), max_length=300, blank=True)
    min_total = models.IntegerField(_("from (points)"), null=True, blank=True)
    colour = models.CharField(
        _("colour"), max_length=12, choices=SegmentColour.choices, default=SegmentColour.BLUE_GREY
    )
    priority = models.CharField(_("priority"), max_length=100, blank=True)
    follow_up = models.CharField(_("recommended follow-up"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        ordering = [models.F("min_total").desc(nulls_last=True)]
        constraints = [models.UniqueConstraint(fields=["tenant", "model", "key"], name="segment_unique_key")]

    def __str__(self) -> str:
        return self.label


# --------------------------------------------------------------------------------------------
# (2) Runs and results
# --------------------------------------------------------------------------------------------


class RunKind(models.TextChoices):
    FULL = "full", _("Full recompute")
    TIME = "time", _("Time-based rescore")


class RunStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Finished")
    FAILED = "failed", _("Failed")
    SUPERSEDED = "superseded", _("Superseded")


class ScoreRun(TenantOwned):
    """A set-based recompute of a tenant. Results are staged under the run id and swapped
    into the leads in one transaction; `done_chunks` lets a re-delivered task resume."""

    kind = models.CharField(max_length=10, choices=RunKind.choices, default=RunKind.FULL)
    status = models.CharField(max_length=12, choices=RunStatus.choices, default=RunStatus.QUEUED)
    model_version = models.PositiveIntegerField()
    as_of = models.DateTimeField()
    total_chunks = models.PositiveIntegerField(default=0)
    done_chunks = models.PositiveIntegerField(default=0)
    leads_total = models.PositiveIntegerField(default=0)
    leads_changed = models.PositiveIntegerField(default=0)
    transitions = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    compute_seconds = models.FloatField(null=True, blank=True)
    swap_seconds = models.FloatField(null=True, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Set when queued and at every step the worker commits; a run whose heartbeat is older than
    # services.STALE_AFTER (and whose row no worker holds) is resumed, or failed after a few tries.
    heartbeat_at = models.DateTimeField(null=True, blank=True, editable=False)
    recoveries = models.PositiveSmallIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["tenant", "-created_at"], name="scorerun_tenant_created_idx")]

    @property
    def percent(self) -> int:
        if self.status == RunStatus.SUCCEEDED:
            return 100
        if not self.total_chunks:
            return 0
        return min(99, int(100 * self.done_chunks / self.total_chunks))

    @property
    def is_finished(self) -> bool:
        return self.status in (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.SUPERSEDED)


class SegmentTransition(TenantOwned):
    """A lead moved between segments (recorded by every scoring path)."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="+")
    from_segment = models.CharField(max_length=20, blank=True)
    to_segment = models.CharField(max_length=20)
    score_total = models.IntegerField(default=0)
    model_version = models.PositiveIntegerField(null=True, blank=True)
    occurred_at = models.DateTimeField()

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["tenant", "lead", "occurred_at"], name="transition_lead_idx"),
            models.Index(fields=["tenant", "to_segment", "occurred_at"], name="transition_to_idx"),
        ]


# --------------------------------------------------------------------------------------------
# (3) Alerts and settings
# --------------------------------------------------------------------------------------------


class HotLeadAlert(TenantOwned):
    """One alert per transition into hot (unique on the transition: retries and duplicate
    events can never create a second one). Delivery (bell, email, webhook) is tracked here."""

    transition = models.ForeignKey(SegmentTransition, on_delete=models.CASCADE, related_name="+")
    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField()
    due_at = models.DateTimeField()
    notified_at = models.DateTimeField(null=True, blank=True)
    followed_up_at = models.DateTimeField(null=True, blank=True)
    followed_up_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    breach_notified_at = models.DateTimeField(null=True, blank=True)
    webhook_status = models.CharField(max_length=12, blank=True)
    webhook_attempts = models.PositiveIntegerField(default=0)
    webhook_last_error = models.CharField(max_length=300, blank=True)
    webhook_delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["tenant", "transition"], name="hotleadalert_one_per_transition")]
        indexes = [
            models.Index(fields=["tenant", "-created_at"], name="hotalert_tenant_created_idx"),
            models.Index(
                fields=["tenant", "due_at"], condition=Q(followed_up_at__isnull=True), name="hotalert_open_due_idx"
            ),
        ]

    @property
    def is_open(self) -> bool:
        return self.followed_up_at is None


class ScoringSettings(TenantOwned):
    """Per-tenant alert settings: follow-up deadline and the optional outbound webhook."""

    follow_up_hours = models.PositiveIntegerField(_("follow-up deadline (hours)"), default=48)
    email_alerts = models.BooleanField(_("email hot-lead alerts"), default=True)
    # The validator covers the operators' admin form; delivery checks the policy again (tenants/outbound.py).
    webhook_url = models.URLField(_("webhook URL"), max_length=500, blank=True, validators=[validate_outbound_url])
    webhook_secret = models.CharField(_("webhook signing secret"), max_length=200, blank=True)
    # Activities received up to here were checked by the periodic reconciliation.
    reconciled_until = models.DateTimeField(null=True, blank=True, editable=False)
    # The last lead id the lead-by-lead reconciliation checked (0: start over). Each run compares the next
    # batch of leads with a fresh computation, so every lead is checked, whatever the age of its activity.
    reconcile_cursor = models.BigIntegerField(default=0, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("scoring settings")
        verbose_name_plural = _("scoring settings")
        constraints = [models.UniqueConstraint(fields=["tenant"], name="scoringsettings_one_per_tenant")]
