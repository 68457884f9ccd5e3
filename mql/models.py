"""The MQL definition marketing and sales agree on, the sales feedback loop, and calibration runs.

All tenant-owned. A definition is versioned: marketing drafts a new version, members comment,
the required approvers approve, and the last required approval activates it (the previous active
version becomes superseded and stays readable for comparison).
"""

from __future__ import annotations

import hashlib
import json

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from leads.models import Lead, Stage
from tenants.models import TenantOwned

# Qualifying information a definition can require (keys are stable; labels translated).
REQUIRED_INFO_CHOICES = [
    ("authority", _("Decision authority")),
    ("need", _("Need / challenge")),
    ("budget", _("Budget")),
    ("timing", _("Timing")),
    ("industry", _("Industry")),
    ("company_size", _("Company size")),
]
REQUIRED_INFO_KEYS = [key for key, _label in REQUIRED_INFO_CHOICES]

SEGMENT_CHOICES = [("hot", _("Hot")), ("warm", _("Warm")), ("cold", _("Cold"))]

# Free-mail providers common in Japan and worldwide; the tenant edits the list per definition.
DEFAULT_FREE_MAIL_DOMAINS = [
    "gmail.com",
    "googlemail.com",
    "yahoo.co.jp",
    "yahoo.com",
    "ymail.ne.jp",
    "hotmail.com",
    "hotmail.co.jp",
    "outlook.com",
    "outlook.jp",
    "live.jp",
    "live.com",
    "msn.com",
    "icloud.com",
    "me.com",
    "mac.com",
    "aol.com",
    "protonmail.com",
    "proton.me",
    "docomo.ne.jp",
    "ezweb.ne.jp",
    "au.com",
    "softbank.ne.jp",
    "i.softbank.jp",
    "nifty.com",
    "excite.co.jp",
    "mail.com",
    "gmx.com",
    "zoho.com",
]

# High-intent actions from the seed interview: demo, trial, prototype/sample, factory/office visit.
DEFAULT_HIGH_INTENT_ACTIVITY_TYPES = ["demo_request", "trial_start", "sample_request", "visit_request"]
DEFAULT_HIGH_INTENT_FORM_KEYS = ["demo", "trial", "prototype", "sample", "factory_visit", "office_visit"]


class DefinitionStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    ACTIVE = "active", _("Active")
    SUPERSEDED = "superseded", _("Superseded")
    DISCARDED = "discarded", _("Discarded")


class ScoreMode(models.TextChoices):
    ANY = "any", _("Minimum score OR segment")
    ALL = "all", _("Minimum score AND segment")


class MqlDefinition(TenantOwned):
    """One version of the tenant's MQL definition.

    A lead qualifies when it is not excluded and either performed a high-intent action within
    `high_intent_days`, or meets the score condition and has every required piece of information.
    """

    version = models.PositiveIntegerField(_("version"))
    status = models.CharField(
        _("status"), max_length=12, choices=DefinitionStatus.choices, default=DefinitionStatus.DRAFT
    )
    title = models.CharField(_("title"), max_length=200, blank=True)

    min_score = models.IntegerField(_("minimum total score"), null=True, blank=True)
    segments = models.JSONField(_("segments"), default=list, blank=True)
    score_mode = models.CharField(
        _("score and segment"), max_length=4, choices=ScoreMode.choices, default=ScoreMode.ANY
    )
    required_info = models.JSONField(_("required qualifying information"), default=list, blank=True)

    high_intent_activity_types = models.JSONField(_("high-intent activity types"), default=list, blank=True)
    high_intent_form_keys = models.JSONField(_("high-intent form keys"), default=list, blank=True)
    high_intent_days = models.PositiveIntegerField(_("high-intent window (days)"), null=True, blank=True, default=90)

    competitor_domains = models.JSONField(_("competitor domains"), default=list, blank=True)
    exclude_free_mail = models.BooleanField(_("exclude free-mail addresses"), default=True)
    free_mail_domains = models.JSONField(_("free-mail domains"), default=list, blank=True)
    exclude_students = models.BooleanField(_("exclude students and job seekers"), default=True)
    exclude_customers = models.BooleanField(_("exclude existing customers"), default=True)
    exclude_unsubscribed = models.BooleanField(_("exclude unsubscribed leads"), default=True)

    sql_criteria = models.TextField(_("SQL acceptance criteria"), blank=True)

    based_on = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    activated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    superseded_at = models.DateTimeField(null=True, blank=True)

    CONDITION_FIELDS = [
        "min_score",
        "segments",
        "score_mode",
        "required_info",
        "high_intent_activity_types",
        "high_intent_form_keys",
        "high_intent_days",
        "competitor_domains",
        "exclude_free_mail",
        "free_mail_domains",
        "exclude_students",
        "exclude_customers",
        "exclude_unsubscribed",
        "sql_criteria",
    ]

    class Meta:
        verbose_name = _("MQL definition")
        verbose_name_plural = _("MQL definitions")
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "version"], name="mql_definition_unique_version"),
            models.UniqueConstraint(fields=["tenant"], condition=Q(status="active"), name="mql_definition_one_active"),
        ]

    def __str__(self) -> str:
        return f"v{self.version}"

    @property
    def is_draft(self) -> bool:
        return self.status == DefinitionStatus.DRAFT

    def conditions(self) -> dict:
        """The conditions as plain data (what approvals and diffs are about)."""
        return {name: getattr(self, name) for name in self.CONDITION_FIELDS}

    def conditions_hash(self) -> str:
        payload = json.dumps(self.conditions(), sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(payload.encode()).hexdigest()


class MqlComment(TenantOwned):
    """A member's comment on a definition version (the discussion thread on the editor)."""

    definition = models.ForeignKey(MqlDefinition, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    body = models.TextField(_("comment"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["tenant", "definition", "created_at"], name="mql_comment_def_idx")]


class MqlApproval(TenantOwned):
    """A member's approval of a draft, bound to the exact conditions they saw (`conditions_hash`).

    Editing the draft afterwards makes older approvals stale: they stay visible but no longer count.
    """

    definition = models.ForeignKey(MqlDefinition, on_delete=models.CASCADE, related_name="approvals")
    approver = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    role = models.CharField(max_length=16)
    conditions_hash = models.CharField(max_length=64)
    note = models.CharField(_("note"), max_length=500, blank=True)
    approved_at = models.DateTimeField()

    class Meta:
        ordering = ["approved_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "definition", "approver"], name="mql_approval_unique_approver")
        ]

    @property
    def is_current(self) -> bool:
        return self.conditions_hash == self.definition.conditions_hash()


class MqlApprovalPolicy(TenantOwned):
    """Who must approve a draft before it becomes active (configured by the tenant admin)."""

    required_roles = models.JSONField(_("roles that must approve"), default=list, blank=True)
    required_approver_ids = models.JSONField(_("members who must approve"), default=list, blank=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    DEFAULT_ROLES = ["marketing", "sales"]

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant"], name="mql_policy_one_per_tenant")]


class ReasonKind(models.TextChoices):
    REJECT = "reject", _("Rejection")
    LOST = "lost", _("Lost deal")
    BOTH = "both", _("Rejection and lost deal")


class FeedbackReason(TenantOwned):
    """One entry of the tenant's rejection / lost-deal reason taxonomy."""

    key = models.SlugField(_("key"), max_length=60)
    label_ja = models.CharField(_("label (Japanese)"), max_length=100)
    label_en = models.CharField(_("label (English)"), max_length=100)
    kind = models.CharField(_("used for"), max_length=8, choices=ReasonKind.choices, default=ReasonKind.BOTH)
    default_stage = models.CharField(
        _("default stage after rejection"),
        max_length=20,
        choices=[(Stage.RECYCLED, Stage.RECYCLED.label), (Stage.DISQUALIFIED, Stage.DISQUALIFIED.label)],
        default=Stage.RECYCLED,
    )
    requires_note = models.BooleanField(_("free text required"), default=False)
    is_active = models.BooleanField(_("active"), default=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [models.UniqueConstraint(fields=["tenant", "key"], name="feedback_reason_unique_key")]

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        return self.label_ja if (get_language() or "ja").startswith("ja") else self.label_en


class Handover(TenantOwned):
    """A lead handed over to sales when it became an MQL: the follow-up deadline and first contact."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="mql_handovers")
    definition_version = models.PositiveIntegerField(null=True, blank=True)
    handed_over_at = models.DateTimeField()
    deadline_at = models.DateTimeField()
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    first_contact_at = models.DateTimeField(null=True, blank=True)
    first_contact_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=20, blank=True)

    class Meta:
        ordering = ["handed_over_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "lead"], condition=Q(closed_at__isnull=True), name="handover_one_open_per_lead"
            )
        ]
        indexes = [
            models.Index(fields=["tenant", "closed_at", "handed_over_at"], name="handover_inbox_idx"),
            models.Index(fields=["tenant", "handed_over_at"], name="handover_time_idx"),
        ]


class RunStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class ReevaluationRun(TenantOwned):
    """Re-evaluation of every lead against the active definition (after activation, or on demand)."""

    definition = models.ForeignKey(MqlDefinition, on_delete=models.CASCADE, related_name="reevaluations")
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)
    promoted = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]


class CalibrationTarget(models.TextChoices):
    WON = "won", _("Won vs lost or rejected")
    SQL = "sql", _("Accepted by sales (SQL) vs rejected")


class CalibrationRun(TenantOwned):
    """One calibration of the scoring model's points from the tenant's labelled history."""

    target = models.CharField(
        _("target"), max_length=8, choices=CalibrationTarget.choices, default=CalibrationTarget.WON
    )
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)
    step = models.CharField(max_length=200, blank=True)
    model_version = models.PositiveIntegerField(null=True, blank=True)
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    copied_to_version = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
