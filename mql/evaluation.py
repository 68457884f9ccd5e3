"""Which leads meet an MQL definition: one SQL condition per definition, evaluated set-based.

    flags = qualification_flags(Lead.objects.all(), {"new": draft, "old": active})
    flags.filter(new=True)              # leads meeting the draft
    flags.values("new", "old").annotate(n=Count("id"))   # enter/leave counts in one query

A lead qualifies when it is NOT excluded and EITHER performed a high-intent action (demo, trial,
sample, visit request ...) within the window, OR meets the score condition and has every
required piece of qualifying information. ORM expressions only.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import BooleanField, Case, Exists, F, OuterRef, Q, QuerySet, Value, When
from django.db.models.functions import Lower, StrIndex, Substr
from django.utils import timezone

from leads.models import Activity, Lead, Stage

from .models import MqlDefinition

STUDENT_KEYWORDS = ["学生", "student", "就活", "就職活動", "求職", "job seeker", "jobseeker", "大学院生"]
STUDENT_OCCUPATIONS = ["student", "学生", "job seeker", "求職者"]

# Stages a lead can be promoted from. Recycled leads re-qualify only after new activity.
PROMOTABLE_STAGES = [Stage.LEAD, Stage.RECYCLED]
# Stages sales has already taken over: never demoted or re-promoted by an evaluation.
SALES_OWNED_STAGES = [Stage.SQL, Stage.OPPORTUNITY, Stage.CUSTOMER]

DOMAIN_ALIAS = "mql_email_domain"


def email_domain_expression():
    return Lower(Substr("email", StrIndex("email", Value("@")) + 1))


def _never() -> Q:
    return Q(pk__in=[])


def required_info_q(keys: list[str]) -> Q:
    q = Q()
    for key in keys:
        if key == "company_size":
            q &= Q(employee_count__isnull=False) | ~Q(size_band="")
        elif key in {"authority", "need", "budget", "timing", "industry"}:
            q &= ~Q(**{key: ""})
    return q


def score_q(definition: MqlDefinition) -> Q | None:
    parts = []
    if definition.min_score is not None:
        parts.append(Q(score_total__gte=definition.min_score))
    if definition.segments:
        parts.append(Q(segment__in=list(definition.segments)))
    if not parts:
        return None
    if len(parts) == 2:
        return parts[0] & parts[1] if definition.score_mode == "all" else parts[0] | parts[1]
    return parts[0]


def high_intent_q(definition: MqlDefinition, *, now: datetime | None = None) -> Q | None:
    types = [t for t in definition.high_intent_activity_types if t]
    keys = [k for k in definition.high_intent_form_keys if k]
    if not types and not keys:
        return None
    condition = Q()
    if types:
        condition |= Q(type__in=types)
    if keys:
        # Form submissions carry their form's key in properties (`form_key`, or `form` from trackers).
        condition |= Q(properties__form_key__in=keys) | Q(properties__form__in=keys)
    activities = Activity.objects.filter(condition, lead_id=OuterRef("pk"))
    if definition.high_intent_days:
        activities = activities.filter(
            occurred_at__gte=(now or timezone.now()) - timedelta(days=definition.high_intent_days)
        )
    return Q(Exists(activities))


def excluded_q(definition: MqlDefinition) -> Q | None:
    """Leads the definition never qualifies. Needs the `DOMAIN_ALIAS` alias on the queryset."""
    parts = []
    domains = {d.strip().lower().lstrip("@") for d in definition.competitor_domains if d and d.strip()}
    if definition.exclude_free_mail:
        domains |= {d.strip().lower().lstrip("@") for d in definition.free_mail_domains if d and d.strip()}
    if domains:
        parts.append(Q(**{f"{DOMAIN_ALIAS}__in": sorted(domains)}))
    if definition.exclude_students:
        student = Q()
        for word in STUDENT_KEYWORDS:
            student |= Q(title__icontains=word)
        # has_key first: a missing key is NULL in SQL, and NOT (NULL) would drop the lead.
        occupation = Q()
        for value in STUDENT_OCCUPATIONS:
            occupation |= Q(custom_fields__occupation__iexact=value)
        student |= Q(custom_fields__has_key="occupation") & occupation
        parts.append(student)
    if definition.exclude_customers:
        customer_companies = (
            Lead.objects.filter(stage=Stage.CUSTOMER).exclude(company_normalized="").values("company_normalized")
        )
        parts.append(Q(stage=Stage.CUSTOMER) | Q(company_normalized__in=customer_companies))
    if definition.exclude_unsubscribed:
        parts.append(Q(unsubscribed=True))
    if not parts:
        return None
    q = parts[0]
    for part in parts[1:]:
        q |= part
    return q


def qualifies_q(definition: MqlDefinition, *, now: datetime | None = None) -> Q:
    """The whole definition as one condition on Lead (queryset must carry `DOMAIN_ALIAS`)."""
    standard = None
    score = score_q(definition)
    if score is not None or definition.required_info:
        standard = (score if score is not None else Q()) & required_info_q(list(definition.required_info))
    intent = high_intent_q(definition, now=now)
    if standard is None and intent is None:
        return _never()
    paths = standard if intent is None else (intent if standard is None else standard | intent)
    q = Q(merged_into__isnull=True) & paths
    excluded = excluded_q(definition)
    if excluded is not None:
        # NOT over a CASE (never NULL): a NULL inside an exclusion must not drop the lead.
        q &= ~Q(Case(When(excluded, then=Value(True)), default=Value(False), output_field=BooleanField()))
    return q


def with_domain(queryset: QuerySet) -> QuerySet:
    return queryset.alias(**{DOMAIN_ALIAS: email_domain_expression()})


def qualification_flags(
    queryset: QuerySet, definitions: dict[str, MqlDefinition | None], *, now: datetime | None = None
) -> QuerySet:
    """Annotate one boolean per named definition (None = the flag is always false)."""
    queryset = with_domain(queryset)
    annotations = {}
    for name, definition in definitions.items():
        condition = qualifies_q(definition, now=now) if definition is not None else _never()
        annotations[name] = Case(When(condition, then=Value(True)), default=Value(False), output_field=BooleanField())
    return queryset.annotate(**annotations)


def qualifying_leads(
    definition: MqlDefinition, queryset: QuerySet | None = None, *, now: datetime | None = None
) -> QuerySet:
    queryset = Lead.objects.all() if queryset is None else queryset
    return with_domain(queryset).filter(qualifies_q(definition, now=now))


def promotable_q() -> Q:
    """Leads an evaluation may move to MQL: new leads, and recycled ones active again since recycling."""
    return Q(stage=Stage.LEAD) | Q(
        stage=Stage.RECYCLED,
        last_activity_at__isnull=False,
        stage_changed_at__isnull=False,
        last_activity_at__gt=F("stage_changed_at"),
    )


def explain(definition: MqlDefinition, lead: Lead, *, now: datetime | None = None) -> dict:
    """Why one lead does or does not meet the definition (for the inbox and lead pages)."""
    base = with_domain(Lead.objects.filter(pk=lead.pk))
    score = score_q(definition)
    intent = high_intent_q(definition, now=now)
    excluded = excluded_q(definition)
    missing = [key for key in definition.required_info if not base.filter(required_info_q([key])).exists()]
    return {
        "qualifies": base.filter(qualifies_q(definition, now=now)).exists(),
        "score_ok": score is None or base.filter(score).exists(),
        "high_intent": intent is not None and base.filter(intent).exists(),
        "excluded": excluded is not None and base.filter(excluded).exists(),
        "missing_info": missing,
    }
