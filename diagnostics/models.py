"""Checklist templates (platform data loaded from `checklists/*.json`) and the
tenant's assessments: who answered what, and the auto-diagnosis measured from data."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from tenants.models import TenantOwned


def _localized(obj, field: str) -> str:
    """`field_ja` for Japanese users, `field_en` otherwise (falls back to the other one)."""
    language = (get_language() or "ja").split("-")[0]
    first, second = ("ja", "en") if language == "ja" else ("en", "ja")
    return getattr(obj, f"{field}_{first}") or getattr(obj, f"{field}_{second}")


class Cause(models.TextChoices):
    """The five root causes of leads that do not warm up (seed 000)."""

    PROCESS = "process", _("Process design")
    DATA = "data", _("Data quality and targeting")
    COLLABORATION = "collaboration", _("Marketing–sales collaboration")
    CONTENT = "content", _("Content")
    # Not plain "Timing": other catalogs translate that as the BANT field (導入時期).
    TIMING = "timing", _("Timing and cadence")


class Action(models.TextChoices):
    """Where in Ondo an unmet item is fixed."""

    MQL_EDITOR = "mql_editor", _("MQL definition editor")
    SCORING_RULES = "scoring_rules", _("Scoring rules and segments")
    ALERT_SETTINGS = "alert_settings", _("Hot-lead alert settings")
    KPI_PLANNER = "kpi_planner", _("KPI planner")
    KPI_DASHBOARD = "kpi_dashboard", _("KPI dashboard")
    SALES_INBOX = "sales_inbox", _("Sales inbox")
    LEAD_IMPORT = "lead_import", _("Lead import")
    DATA_QUALITY = "data_quality", _("Data quality")
    FEEDBACK_REPORT = "feedback_report", _("Feedback report")
    CALIBRATION = "calibration", _("Score calibration")
    MEMBERS = "members", _("Members and roles")


class RoadmapPhase(models.IntegerChoices):
    """The seed's improvement roadmap: diagnose → scoring design → collaboration and shared KPIs."""

    DIAGNOSE = 1, _("Step 1: diagnose and build the data foundation")
    SCORING = 2, _("Step 2: design scoring and segments")
    COLLABORATION = 3, _("Step 3: collaboration and shared KPIs")


class ChecklistTemplate(models.Model):
    """A checklist (platform data, same for every tenant), synced from `diagnostics/checklists/<key>.json`."""

    key = models.SlugField(max_length=60, unique=True)
    name_ja = models.CharField(max_length=200)
    name_en = models.CharField(max_length=200)
    description_ja = models.TextField(blank=True)
    description_en = models.TextField(blank=True)
    source = models.CharField(max_length=100, blank=True)
    position = models.PositiveSmallIntegerField(default=0)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["position", "key"]
        verbose_name = _("checklist template")
        verbose_name_plural = _("checklist templates")

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        return _localized(self, "name")

    @property
    def description(self) -> str:
        return _localized(self, "description")


class ChecklistCategory(models.Model):
    """A group of items inside a template (e.g. "data quality and targeting")."""

    template = models.ForeignKey(ChecklistTemplate, on_delete=models.CASCADE, related_name="categories")
    key = models.SlugField(max_length=60)
    name_ja = models.CharField(max_length=200)
    name_en = models.CharField(max_length=200)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["template", "position"]
        constraints = [models.UniqueConstraint(fields=["template", "key"], name="dx_category_unique_key")]

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        return _localized(self, "name")


class ChecklistItem(models.Model):
    """One statement the team answers. `key` is stable: answers are stored against the row."""

    template = models.ForeignKey(ChecklistTemplate, on_delete=models.CASCADE, related_name="items")
    category = models.ForeignKey(ChecklistCategory, on_delete=models.CASCADE, related_name="items")
    key = models.SlugField(max_length=80)
    position = models.PositiveSmallIntegerField(default=0)
    cause = models.CharField(max_length=20, choices=Cause.choices)
    text_ja = models.TextField()
    text_en = models.TextField()
    recommendation_ja = models.TextField()
    recommendation_en = models.TextField()
    action = models.CharField(max_length=30, choices=Action.choices, blank=True)
    roadmap_phase = models.PositiveSmallIntegerField(choices=RoadmapPhase.choices, default=RoadmapPhase.DIAGNOSE)
    evidence_key = models.CharField(max_length=60, blank=True)
    # Items removed from the JSON are kept (answers point at them) but hidden.
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["template", "position"]
        constraints = [models.UniqueConstraint(fields=["template", "key"], name="dx_item_unique_key")]

    def __str__(self) -> str:
        return self.key

    @property
    def text(self) -> str:
        return _localized(self, "text")

    @property
    def recommendation(self) -> str:
        return _localized(self, "recommendation")


class Assessment(TenantOwned):
    """One run of a checklist by the team (manual) or measured from data (auto-diagnosis)."""

    class Kind(models.TextChoices):
        MANUAL = "manual", _("Team assessment")
        AUTO = "auto", _("Auto-diagnosis")

    template = models.ForeignKey(ChecklistTemplate, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.MANUAL)
    title = models.CharField(_("title"), max_length=200, blank=True)
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)
    # Auto-diagnoses: one per ISO week ("2026-W47"), so the weekly task is an upsert.
    period_key = models.CharField(max_length=10, blank=True)
    # Scores kept current by every answer (history and trend read this, not the answers).
    summary = models.JSONField(default=dict, blank=True)
    # Evidence measured when the assessment was completed (live while it is open).
    evidence = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("assessment")
        verbose_name_plural = _("assessments")
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "template", "period_key"], condition=Q(kind="auto"), name="dx_auto_unique_period"
            )
        ]
        indexes = [models.Index(fields=["tenant", "template", "kind", "-created_at"], name="dx_assessment_list_idx")]

    def __str__(self) -> str:
        return self.title or f"{self.template} {self.created_at:%Y-%m-%d}"

    @property
    def is_open(self) -> bool:
        return self.completed_at is None and self.kind == self.Kind.MANUAL

    @property
    def display_title(self) -> str:
        return self.title or self.template.name


class Side(models.TextChoices):
    MARKETING = "marketing", _("Marketing")
    SALES = "sales", _("Sales")
    EVIDENCE = "evidence", _("Measured from data")


class Respondent(TenantOwned):
    """A member answering an assessment, on the marketing or the sales side."""

    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="respondents")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    side = models.CharField(_("answering for"), max_length=12, choices=Side.choices)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["side", "created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "assessment", "user"],
                condition=Q(user__isnull=False),
                name="dx_respondent_unique_user",
            ),
            models.UniqueConstraint(
                fields=["tenant", "assessment"], condition=Q(side="evidence"), name="dx_respondent_unique_evidence"
            ),
        ]

    def __str__(self) -> str:
        return str(self.user) if self.user_id else str(self.get_side_display())


class AnswerValue(models.TextChoices):
    YES = "yes", _("Yes")
    PARTLY = "partly", _("Partly")
    NO = "no", _("No")
    NA = "na", _("Not applicable")


# Points per answer; "not applicable" is left out of every score.
ANSWER_POINTS: dict[str, float] = {AnswerValue.YES: 1.0, AnswerValue.PARTLY: 0.5, AnswerValue.NO: 0.0}


class Answer(TenantOwned):
    """One respondent's answer to one item (saved the moment it is chosen)."""

    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="answers")
    respondent = models.ForeignKey(Respondent, on_delete=models.CASCADE, related_name="answers")
    item = models.ForeignKey(ChecklistItem, on_delete=models.PROTECT, related_name="+")
    value = models.CharField(_("answer"), max_length=10, choices=AnswerValue.choices)
    note = models.TextField(_("note"), blank=True)
    answered_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["item__position", "respondent_id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "respondent", "item"], name="dx_answer_unique_item"),
        ]
        indexes = [models.Index(fields=["tenant", "assessment", "item"], name="dx_answer_item_idx")]
