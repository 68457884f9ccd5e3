"""Leads, their activity, stage history and sales outcomes (all tenant-owned)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from tenants.models import Tenant, TenantOwned


class Stage(models.TextChoices):
    LEAD = "lead", _("Lead")
    MQL = "mql", _("MQL")
    SQL = "sql", _("SQL")
    OPPORTUNITY = "opportunity", _("Opportunity")
    CUSTOMER = "customer", _("Customer")
    DISQUALIFIED = "disqualified", _("Disqualified")
    RECYCLED = "recycled", _("Recycled")


class Authority(models.TextChoices):
    UNKNOWN = "", _("Unknown")
    DECISION_MAKER = "decision_maker", _("Decision maker")
    INFLUENCER = "influencer", _("Influences the decision")
    NONE = "none", _("No authority")


class Budget(models.TextChoices):
    UNKNOWN = "", _("Unknown")
    SECURED = "secured", _("Budget secured")
    PLANNED = "planned", _("Budget being planned")
    NONE = "none", _("No budget")


class Timing(models.TextChoices):
    UNKNOWN = "", _("Unknown")
    WITHIN_3M = "within_3m", _("Within 3 months")
    WITHIN_6M = "within_6m", _("Within 6 months")
    WITHIN_12M = "within_12m", _("Within 12 months")
    LATER = "later", _("Later / undecided")


class SizeBand(models.TextChoices):
    """Company size by employees, in the bands Japanese B2B lists use."""

    UNKNOWN = "", _("Unknown")
    B1_9 = "1-9", _("1–9 employees")
    B10_49 = "10-49", _("10–49 employees")
    B50_99 = "50-99", _("50–99 employees")
    B100_299 = "100-299", _("100–299 employees")
    B300_999 = "300-999", _("300–999 employees")
    B1000_4999 = "1000-4999", _("1,000–4,999 employees")
    B5000 = "5000+", _("5,000 or more employees")


# (upper bound inclusive, band) — used to derive the band from an employee count.
SIZE_BAND_LIMITS: list[tuple[int | None, str]] = [
    (9, SizeBand.B1_9),
    (49, SizeBand.B10_49),
    (99, SizeBand.B50_99),
    (299, SizeBand.B100_299),
    (999, SizeBand.B300_999),
    (4999, SizeBand.B1000_4999),
    (None, SizeBand.B5000),
]


class ActivityTypes(models.TextChoices):
    """Built-in activity types; tenants add their own as ActivityType rows."""

    EMAIL_OPEN = "email_open", _("Email opened")
    EMAIL_CLICK = "email_click", _("Email link clicked")
    DOWNLOAD = "download", _("Download")
    PAGE_VIEW = "page_view", _("Page view")
    PRICING_VIEW = "pricing_view", _("Pricing page view")
    FORM_START = "form_start", _("Form started")
    FORM_SUBMIT = "form_submit", _("Form submitted")
    WEBINAR_REGISTER = "webinar_register", _("Webinar registration")
    WEBINAR_ATTEND = "webinar_attend", _("Webinar attendance")
    SURVEY_ANSWER = "survey_answer", _("Survey answered")
    DEMO_REQUEST = "demo_request", _("Demo request")
    MEETING = "meeting", _("Meeting")


class Segment(models.TextChoices):
    HOT = "hot", _("Hot")
    WARM = "warm", _("Warm")
    COLD = "cold", _("Cold")


# Timestamps fed from outside (events, imports, CRMs) must lie in 2000–2100: a value PostgreSQL would store as
# year 1 BC cannot be read back by Python and would break every list, export and delete of the tenant.
# Validation (leads/validation.py) refuses such values with a message; these CHECKs make them impossible.
STORABLE_FROM, STORABLE_UNTIL = "2000-01-01T00:00:00+00:00", "2100-01-01T00:00:00+00:00"


def in_storable_range(column: str, *, name: str, nullable: bool = False) -> models.CheckConstraint:
    condition = Q(**{f"{column}__gte": STORABLE_FROM, f"{column}__lt": STORABLE_UNTIL})
    if nullable:
        condition |= Q(**{f"{column}__isnull": True})
    return models.CheckConstraint(condition=condition, name=name)


class Lead(TenantOwned):
    """A person at a prospect company. Email is unique per tenant (normalised).

    Score columns are written by the scoring app (a layer above) so that lists,
    filters and rollups can read them without importing it.
    """

    # Every index of the table below leads with tenant_id, so the one-column index a foreign key gets by default
    # would only be one more index to write on every insert and every score update.
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", editable=False, db_index=False)
    email = models.CharField(_("email"), max_length=254)
    name = models.CharField(_("name"), max_length=200, blank=True)
    company = models.CharField(_("company"), max_length=200, blank=True)
    company_normalized = models.CharField(max_length=200, blank=True, editable=False)
    # NFKC, case-folded, spaces removed: with company_normalized it finds duplicate candidates.
    name_normalized = models.CharField(max_length=200, blank=True, editable=False)
    title = models.CharField(_("job title"), max_length=200, blank=True)
    department = models.CharField(_("department"), max_length=200, blank=True)
    employee_count = models.PositiveIntegerField(_("employees"), null=True, blank=True)
    size_band = models.CharField(_("company size band"), max_length=40, blank=True, choices=SizeBand.choices)
    industry = models.CharField(_("industry"), max_length=100, blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    channel = models.CharField(_("source channel"), max_length=40, blank=True)
    campaign = models.CharField(_("campaign"), max_length=200, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    stage = models.CharField(_("stage"), max_length=20, choices=Stage.choices, default=Stage.LEAD)
    stage_changed_at = models.DateTimeField(_("stage changed"), null=True, blank=True)

    # The qualifying information sales needs (BANT), first-class for scoring and MQL rules.
    authority = models.CharField(_("decision authority"), max_length=20, choices=Authority.choices, blank=True)
    need = models.TextField(_("need / challenge"), blank=True)
    budget = models.CharField(_("budget"), max_length=20, choices=Budget.choices, blank=True)
    timing = models.CharField(_("timing"), max_length=20, choices=Timing.choices, blank=True)

    custom_fields = models.JSONField(_("custom fields"), default=dict, blank=True)
    email_consent = models.BooleanField(_("email consent"), default=True)
    unsubscribed = models.BooleanField(_("unsubscribed"), default=False)
    first_seen_at = models.DateTimeField(_("first seen"), null=True, blank=True)
    last_activity_at = models.DateTimeField(_("last activity"), null=True, blank=True)

    score_behaviour = models.IntegerField(_("behaviour score"), default=0)
    score_fit = models.IntegerField(_("fit score"), default=0)
    score_total = models.IntegerField(_("score"), default=0)
    segment = models.CharField(_("segment"), max_length=20, blank=True)
    scored_at = models.DateTimeField(_("scored at"), null=True, blank=True)
    score_model_version = models.PositiveIntegerField(null=True, blank=True)

    # Kept for compatibility; a merged lead is deleted and its merge recorded in LeadMerge.
    # Almost always empty: only the rows that point somewhere are indexed (for SET NULL when the target is deleted).
    merged_into = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_index=False
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("lead")
        verbose_name_plural = _("leads")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "email"], name="lead_unique_tenant_email"),
            in_storable_range("first_seen_at", name="lead_first_seen_at_range", nullable=True),
            in_storable_range("last_activity_at", name="lead_last_activity_at_range", nullable=True),
            in_storable_range("stage_changed_at", name="lead_stage_changed_at_range", nullable=True),
        ]
        indexes = [
            models.Index(fields=["tenant", "-id"], name="lead_tenant_id_desc_idx"),
            models.Index(fields=["tenant", "stage"], name="lead_tenant_stage_idx"),
            models.Index(fields=["tenant", "segment", "-score_total"], name="lead_tenant_segment_idx"),
            models.Index(fields=["tenant", "-score_total", "-id"], name="lead_tenant_score_idx"),
            # Leads of an owner: the owner foreign key's own index (an owner's leads are all in one tenant).
            models.Index(fields=["tenant", "channel"], name="lead_tenant_channel_idx"),
            models.Index(fields=["tenant", "-last_activity_at"], name="lead_tenant_last_act_idx"),
            models.Index(fields=["tenant", "company_normalized", "name_normalized"], name="lead_tenant_company_idx"),
            models.Index(fields=["tenant", "industry"], name="lead_tenant_industry_idx"),
            models.Index(fields=["tenant", "name", "id"], name="lead_tenant_name_idx"),
            models.Index(fields=["merged_into"], condition=Q(merged_into__isnull=False), name="lead_merged_into_idx"),
            # Trigram indexes for search (PostgreSQL only) are created in migration 0004.
        ]

    def __str__(self) -> str:
        return self.name or self.email


class Activity(TenantOwned):
    """Something a lead did (append-only). `external_id` makes retried deliveries harmless."""

    # As for leads: the composite indexes lead with tenant_id, a one-column index would only slow ingest.
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", editable=False, db_index=False)
    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="activities", null=True, blank=True)
    # Segment-style identities, kept so that a later identify can link the activity to its lead.
    anonymous_id = models.CharField(max_length=200, blank=True)
    user_id = models.CharField(max_length=200, blank=True)
    type = models.CharField(_("type"), max_length=60)
    occurred_at = models.DateTimeField(_("occurred at"))
    url = models.CharField(_("URL"), max_length=1000, blank=True)
    campaign = models.CharField(_("campaign"), max_length=200, blank=True)
    properties = models.JSONField(_("properties"), default=dict, blank=True)
    source = models.CharField(_("source"), max_length=40, blank=True)
    external_id = models.CharField(max_length=200, null=True, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("activity")
        verbose_name_plural = _("activities")
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "external_id"],
                condition=Q(external_id__isnull=False),
                name="activity_unique_tenant_external_id",
            ),
            in_storable_range("occurred_at", name="activity_occurred_at_range"),
        ]
        indexes = [
            # Covering index for per-lead aggregation (rescoring) and the timeline.
            models.Index(fields=["tenant", "lead", "occurred_at"], include=["type"], name="activity_lead_time_idx"),
            models.Index(fields=["tenant", "occurred_at"], name="activity_tenant_time_idx"),
            models.Index(
                fields=["tenant", "anonymous_id"],
                condition=Q(lead__isnull=True) & ~Q(anonymous_id=""),
                name="activity_anonymous_idx",
            ),
            models.Index(
                fields=["tenant", "user_id"],
                condition=Q(lead__isnull=True) & ~Q(user_id=""),
                name="activity_user_id_idx",
            ),
        ]


class LeadStageChange(TenantOwned):
    """Every stage change of a lead, with who/what caused it."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="stage_changes")
    from_stage = models.CharField(max_length=20, choices=Stage.choices, blank=True)
    to_stage = models.CharField(max_length=20, choices=Stage.choices)
    changed_at = models.DateTimeField(db_index=True)
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    reason = models.CharField(max_length=200, blank=True)
    mql_definition_version = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["changed_at", "id"]
        indexes = [
            models.Index(fields=["tenant", "lead", "changed_at"], name="stagechange_lead_idx"),
            models.Index(fields=["tenant", "to_stage", "changed_at"], name="stagechange_stage_time_idx"),
        ]


class FeedbackOutcome(models.TextChoices):
    ACCEPTED = "accepted", _("Accepted as SQL")
    REJECTED = "rejected", _("Rejected")
    OPPORTUNITY = "opportunity", _("Opportunity created")
    WON = "won", _("Won")
    LOST = "lost", _("Lost")


class LeadFeedback(TenantOwned):
    """A sales outcome recorded on a handed-over lead (UI or CRM via API)."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="feedback")
    outcome = models.CharField(max_length=20, choices=FeedbackOutcome.choices)
    reason = models.CharField(max_length=60, blank=True)
    note = models.TextField(blank=True)
    amount = models.DecimalField(max_digits=14, decimal_places=0, null=True, blank=True)
    expected_close_on = models.DateField(null=True, blank=True)
    occurred_at = models.DateTimeField()
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    mql_definition_version = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["occurred_at", "id"]
        constraints = [
            in_storable_range("occurred_at", name="feedback_occurred_at_range"),
            models.CheckConstraint(
                condition=Q(expected_close_on__isnull=True)
                | Q(expected_close_on__gte="2000-01-01", expected_close_on__lte="2100-12-31"),
                name="feedback_expected_close_on_range",
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "lead", "occurred_at"], name="feedback_lead_idx"),
            models.Index(fields=["tenant", "outcome", "occurred_at"], name="feedback_outcome_idx"),
        ]


class Channel(TenantOwned):
    """A source channel of the tenant's list (editable; the defaults are created on first edit)."""

    key = models.SlugField(_("key"), max_length=40)
    label = models.CharField(_("label"), max_length=100)
    position = models.PositiveIntegerField(_("position"), default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("channel")
        verbose_name_plural = _("channels")
        ordering = ["position", "id"]
        constraints = [models.UniqueConstraint(fields=["tenant", "key"], name="channel_unique_tenant_key")]

    def __str__(self) -> str:
        return self.label


class CustomFieldType(models.TextChoices):
    TEXT = "text", _("Text")
    NUMBER = "number", _("Number")
    CHOICE = "choice", _("Choice")
    DATE = "date", _("Date")
    BOOLEAN = "boolean", _("Yes / no")


class CustomFieldDefinition(TenantOwned):
    """A tenant-defined lead attribute, stored in Lead.custom_fields[key]."""

    key = models.SlugField(_("key"), max_length=40)
    label = models.CharField(_("label"), max_length=100)
    field_type = models.CharField(
        _("type"), max_length=10, choices=CustomFieldType.choices, default=CustomFieldType.TEXT
    )
    choices = models.JSONField(_("choices"), default=list, blank=True)
    position = models.PositiveIntegerField(_("position"), default=0)
    filterable = models.BooleanField(_("show as a filter"), default=True)

    class Meta:
        verbose_name = _("custom field")
        verbose_name_plural = _("custom fields")
        ordering = ["position", "id"]
        constraints = [models.UniqueConstraint(fields=["tenant", "key"], name="customfield_unique_tenant_key")]

    def __str__(self) -> str:
        return self.label


class ActivityType(TenantOwned):
    """A tenant-defined activity type (the built-in ones are ActivityTypes)."""

    key = models.SlugField(_("key"), max_length=60)
    label = models.CharField(_("label"), max_length=100)

    class Meta:
        verbose_name = _("activity type")
        verbose_name_plural = _("activity types")
        ordering = ["key"]
        constraints = [models.UniqueConstraint(fields=["tenant", "key"], name="activitytype_unique_tenant_key")]

    def __str__(self) -> str:
        return self.label


class MappingKind(models.TextChoices):
    TRAIT = "trait", _("Identify trait → lead field")
    EVENT = "event", _("Track event → activity type")
    PAGE = "page", _("Page URL contains → activity type")


class IngestMapping(TenantOwned):
    """How Segment/RudderStack data maps onto Ondo, on top of the built-in defaults.

    An empty target switches a default mapping off.
    """

    kind = models.CharField(_("kind"), max_length=10, choices=MappingKind.choices)
    source = models.CharField(_("source"), max_length=200)
    target = models.CharField(_("target"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("ingest mapping")
        verbose_name_plural = _("ingest mappings")
        ordering = ["kind", "source"]
        constraints = [models.UniqueConstraint(fields=["tenant", "kind", "source"], name="ingestmapping_unique_source")]


class IdentityKind(models.TextChoices):
    ANONYMOUS_ID = "anonymous_id", _("Anonymous id")
    USER_ID = "user_id", _("User id")
    EMAIL = "email", _("Former email (merged lead)")


class LeadIdentity(TenantOwned):
    """Another id that points at a lead: Segment userId/anonymousId, or the email of a merged lead."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="identities")
    kind = models.CharField(max_length=20, choices=IdentityKind.choices)
    value = models.CharField(max_length=254)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("lead identity")
        verbose_name_plural = _("lead identities")
        constraints = [models.UniqueConstraint(fields=["tenant", "kind", "value"], name="leadidentity_unique_value")]
        indexes = [models.Index(fields=["tenant", "lead"], name="leadidentity_lead_idx")]


class LeadMerge(TenantOwned):
    """The record of a merge: what the merged (deleted) lead was, and what moved to the survivor."""

    survivor = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="merges")
    merged_lead_id = models.BigIntegerField()
    merged_email = models.CharField(max_length=254)
    merged_snapshot = models.JSONField(default=dict)
    moved = models.JSONField(default=dict)
    merged_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    merged_at = models.DateTimeField()

    class Meta:
        verbose_name = _("lead merge")
        verbose_name_plural = _("lead merges")
        ordering = ["-merged_at", "-id"]
        indexes = [models.Index(fields=["tenant", "survivor"], name="leadmerge_survivor_idx")]


class DuplicateStatus(models.TextChoices):
    OPEN = "open", _("To review")
    DISMISSED = "dismissed", _("Not a duplicate")


class DuplicateCandidate(TenantOwned):
    """Two leads that look like the same person (same normalised company + name), awaiting review.

    Never merged automatically; `lead_a_id < lead_b_id`.
    """

    lead_a = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="+")
    lead_b = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(max_length=40, default="company_name")
    status = models.CharField(max_length=20, choices=DuplicateStatus.choices, default=DuplicateStatus.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")

    class Meta:
        verbose_name = _("duplicate candidate")
        verbose_name_plural = _("duplicate candidates")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "lead_a", "lead_b"], name="duplicate_unique_pair"),
            models.CheckConstraint(condition=Q(lead_a__lt=models.F("lead_b")), name="duplicate_ordered_pair"),
        ]
        indexes = [
            models.Index(fields=["tenant", "status"], name="duplicate_status_idx"),
            models.Index(fields=["tenant", "lead_b"], name="duplicate_lead_b_idx"),
        ]


class ImportStatus(models.TextChoices):
    UPLOADED = "uploaded", _("Waiting for the column mapping")
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Importing")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class ImportJob(TenantOwned):
    """One CSV upload: the file, the chosen mapping, then the task's progress and results."""

    file_name = models.CharField(_("file"), max_length=255)
    raw = models.BinaryField()
    size = models.PositiveIntegerField(default=0)
    encoding = models.CharField(_("encoding"), max_length=20)
    encoding_detected = models.CharField(max_length=20, blank=True)
    delimiter = models.CharField(max_length=1, default=",")
    header = models.JSONField(default=list)
    mapping = models.JSONField(default=list, blank=True)
    row_count = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=20, choices=ImportStatus.choices, default=ImportStatus.UPLOADED)
    language = models.CharField(max_length=8, default="ja")
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    unchanged_count = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    duplicate_count = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)
    failure = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Set when queued and while the worker validates; during the write the worker holds the job's row.
    # A job with an old heartbeat and a free row is resumed (csv_import.imports_recover_stale).
    heartbeat_at = models.DateTimeField(null=True, blank=True, editable=False)
    recoveries = models.PositiveSmallIntegerField(default=0, editable=False)

    class Meta:
        verbose_name = _("CSV import")
        verbose_name_plural = _("CSV imports")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["tenant", "-created_at"], name="importjob_tenant_created_idx")]

    @property
    def is_finished(self) -> bool:
        return self.status in {ImportStatus.DONE, ImportStatus.FAILED}


class FormEndpoint(TenantOwned):
    """A public inquiry-form endpoint: /f/<tenant-slug>/<key>/ with a token, honeypot and rate limit."""

    key = models.SlugField(_("form key"), max_length=40)
    name = models.CharField(_("name"), max_length=100)
    token = models.CharField(max_length=64)
    field_map = models.JSONField(_("field names"), default=dict, blank=True)
    channel = models.CharField(_("source channel"), max_length=40, blank=True)
    campaign = models.CharField(_("campaign"), max_length=200, blank=True)
    redirect_url = models.URLField(_("thank-you page URL"), blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("form endpoint")
        verbose_name_plural = _("form endpoints")
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["tenant", "key"], name="formendpoint_unique_tenant_key")]

    def __str__(self) -> str:
        return self.name
