"""Demo data for the MQL app: an active definition approved by marketing and sales two months ago,
a newer draft (budget and timing required) approved by marketing and waiting for sales with a
discussion thread, MQLs handed over to sales (some overdue), and eight weeks of feedback history
with reasons, opportunities, wins and losses. Fast: a few hundred service calls."""

from __future__ import annotations

import random
import time
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from leads.models import Activity, Lead, LeadFeedback, LeadStageChange, Stage
from tenants.models import Role, User

from . import evaluation, feedback, services
from .models import DefinitionStatus, Handover, MqlApproval, MqlComment, MqlDefinition

WAITING = 15  # hand-overs still open in the sales inbox


def _member(tenant, role: str) -> User | None:
    return User.objects.filter(memberships__tenant=tenant, memberships__role=role).order_by("id").first()


def _ensure_leads(now) -> None:
    """Standalone fallback (no leads demo): a small, varied set of scored leads."""
    if Lead.objects.exists():
        return
    rng = random.Random(5)  # nosec B311
    titles = ["代表取締役", "情報システム部長", "マーケティング担当", "営業マネージャー", "スタッフ", "学生"]
    leads = Lead.objects.bulk_create(
        [
            Lead(
                email=f"demo{i}@{'gmail.com' if i % 17 == 0 else f'company{i % 40}.co.jp'}",
                name=f"デモ 太郎{i}",
                company=f"株式会社デモ{i % 40}",
                title=rng.choice(titles),
                employee_count=rng.choice([30, 80, 150, 600, None]),
                industry=rng.choice(["IT・ソフトウェア", "製造業", "小売"]),
                channel=rng.choice(["seo", "webinar", "event", "listing_ads"]),
                budget=rng.choice(["", "", "planned", "secured"]),
                timing=rng.choice(["", "within_3m", "within_6m", "later"]),
                authority=rng.choice(["", "decision_maker", "influencer"]),
                first_seen_at=now - timedelta(days=rng.randint(1, 84)),
            )
            for i in range(160)
        ]
    )
    activities = []
    for lead in leads:
        for kind, chance in (
            ("email_open", 0.8),
            ("download", 0.4),
            ("pricing_view", 0.3),
            ("webinar_attend", 0.2),
            ("demo_request", 0.06),
        ):
            if rng.random() < chance:
                activities.append(Activity(lead=lead, type=kind, occurred_at=now - timedelta(days=rng.randint(0, 30))))
    Activity.objects.bulk_create(activities)
    from scoring import engine

    engine.rescore_leads([lead.pk for lead in leads])


def build_demo(*, tenant, lead_count: int, stdout) -> None:
    started = time.monotonic()
    rng = random.Random(42)  # nosec B311
    now = timezone.now()
    marketing, sales, admin = (_member(tenant, role) for role in (Role.MARKETING, Role.SALES, Role.ADMIN))
    sales2 = User.objects.filter(memberships__tenant=tenant, memberships__role=Role.SALES).order_by("-id").first()
    if marketing is None or sales is None:
        stdout.write("mql: demo needs a marketing and a sales member; skipped")
        return
    services.defaults_ensure()
    _ensure_leads(now)

    # v1: agreed two months ago.
    v1 = services.definition_create_draft(actor=marketing)
    v1 = services.definition_update_draft(
        definition=v1,
        actor=marketing,
        title="ホットリード＋高意欲フォーム",
        conditions=v1.conditions()
        | {
            "min_score": 70,
            "segments": [],
            "required_info": [],
            "exclude_free_mail": True,
            "sql_criteria": "決裁に関わる方と連絡が取れ、課題が具体的であること。",
        },
    )
    MqlComment.objects.create(
        definition=v1, author=marketing, body="まずはスコア70点以上と高意欲フォームで始めましょう。"
    )
    MqlComment.objects.create(definition=v1, author=sales, body="了解です。フリーメールは除外してください。")
    services.definition_approve(definition=v1, approver=marketing)
    services.definition_approve(definition=v1, approver=sales, note="1か月運用して見直しましょう")
    # Run the activation's re-evaluation now (the queued task then finds it done and does nothing).
    services.reevaluate_all(run_id=v1.reevaluations.get().pk)
    agreed = now - timedelta(days=60)
    MqlDefinition.objects.filter(pk=v1.pk).update(created_at=agreed - timedelta(days=3), activated_at=agreed)
    MqlApproval.objects.filter(definition=v1).update(approved_at=agreed)
    MqlComment.objects.filter(definition=v1).update(created_at=agreed - timedelta(days=2))

    # Hand-overs under v1, spread over the last eight weeks (bulk updates, not a loop of saves).
    handovers = list(Handover.objects.filter(definition_version=v1.version).select_related("lead").order_by("lead_id"))
    promoted = [h.lead_id for h in handovers]
    rng.shuffle(handovers)
    waiting = set(h.pk for h in handovers[-WAITING:])
    changes = {c.lead_id: c for c in LeadStageChange.objects.filter(lead_id__in=promoted, to_stage=Stage.MQL)}
    leads = []
    for handover in handovers:
        if handover.pk in waiting:
            at = now - timedelta(hours=rng.randint(2, 80))
        else:
            at = now - timedelta(days=rng.randint(3, 56), hours=rng.randint(0, 23))
        handover.handed_over_at, handover.deadline_at = at, at + timedelta(hours=48)
        handover.owner = rng.choice([sales, sales2]) if rng.random() < 0.7 else None
        handover.lead.stage_changed_at, handover.lead.owner = at, handover.owner
        leads.append(handover.lead)
        if handover.lead_id in changes:
            changes[handover.lead_id].changed_at = at
    Handover.objects.bulk_update(handovers, ["handed_over_at", "deadline_at", "owner"], batch_size=500)
    Lead.objects.bulk_update(leads, ["stage_changed_at", "owner"], batch_size=500)
    LeadStageChange.objects.bulk_update(list(changes.values()), ["changed_at"], batch_size=500)

    # Eight weeks of sales outcomes, imported in one go through the bulk outcome service. The story
    # draft v2 tells: leads whose budget and timing are known get accepted; the others are
    # rejected mostly for timing and budget.
    reasons = [
        "timing_too_early",
        "no_budget",
        "not_decision_maker",
        "no_real_need",
        "bad_contact_data",
        "competitor",
        "student_job_seeker",
        "duplicate",
    ]
    weights = [22, 18, 16, 14, 8, 6, 4, 3]
    rows = []
    for handover in handovers:
        if handover.pk in waiting:
            continue
        lead = handover.lead
        member = (handover.owner or rng.choice([sales, sales2])).pk
        hours = rng.choice([2, 5, 9, 20, 30, 44, 60, 75])
        contacted = min(handover.handed_over_at + timedelta(hours=hours), now - timedelta(minutes=5))
        base = {"lead_id": lead.pk, "recorded_by": member}
        if rng.random() < (0.8 if lead.budget and lead.timing else 0.3):
            rows.append(base | {"outcome": "accepted", "occurred_at": contacted})
            later = min(contacted + timedelta(days=rng.randint(3, 20)), now - timedelta(minutes=1))
            if rng.random() < 0.45:
                rows.append(
                    base
                    | {
                        "outcome": "opportunity",
                        "occurred_at": later,
                        "amount": rng.choice([1_200_000, 2_500_000, 4_800_000]),
                    }
                )
                if rng.random() < 0.5:
                    close = min(later + timedelta(days=rng.randint(5, 20)), now - timedelta(seconds=30))
                    if rng.random() < 0.6:
                        rows.append(
                            base
                            | {
                                "outcome": "won",
                                "occurred_at": close,
                                "amount": rng.choice([1_100_000, 2_400_000, 5_000_000]),
                            }
                        )
                    else:
                        rows.append(
                            base
                            | {
                                "outcome": "lost",
                                "occurred_at": close,
                                "reason": rng.choice(["no_budget", "competitor", "timing_too_early"]),
                            }
                        )
        else:
            if not lead.timing and rng.random() < 0.6:
                reason = "timing_too_early"
            elif not lead.budget and rng.random() < 0.6:
                reason = "no_budget"
            else:
                reason = rng.choices(reasons, weights)[0]
            rows.append(
                base
                | {
                    "outcome": "rejected",
                    "occurred_at": contacted,
                    "reason": reason,
                    "note": "予算化は来期" if reason == "no_budget" else "",
                }
            )
    outcomes = feedback.feedback_import(rows=rows, actor=sales).created
    # A few overdue ones among those still waiting were at least reached by phone.
    for handover in handovers[-WAITING:][:3]:
        feedback.handover_mark_contacted(lead=handover.lead, actor=sales)

    # v2: stricter draft, approved by marketing, waiting for sales, with a discussion.
    v2 = services.definition_create_draft(actor=marketing, based_on=v1)
    v2 = services.definition_update_draft(
        definition=v2,
        actor=marketing,
        title="予算と導入時期を必須に",
        conditions=v2.conditions()
        | {
            "min_score": 60,
            "required_info": ["budget", "timing"],
            "competitor_domains": ["rival-soft.co.jp", "competitor.example"],
            "sql_criteria": "決裁に関わる方と連絡が取れ、予算と導入時期が分かっていること。",
        },
    )
    thread = [
        (
            sales,
            "却下理由の上位が「時期が早すぎる」「予算がない」です。この2つが分かっているリードだけ渡してほしいです。",
        ),
        (marketing, "フォームに予算と導入時期の項目を追加しました。最低スコアは60点に下げて件数を保ちます。"),
        (admin or marketing, "右側の影響を見ると、過去の受け入れ率が上がりそうですね。営業側の承認をお願いします。"),
    ]
    for offset, (author, body) in enumerate(thread):
        comment = MqlComment.objects.create(definition=v2, author=author, body=body)
        MqlComment.objects.filter(pk=comment.pk).update(created_at=now - timedelta(days=3 - offset, hours=offset))
    services.definition_approve(definition=v2, approver=marketing, note="影響を確認済み")

    open_count = Handover.objects.filter(closed_at__isnull=True).count()
    qualifying = evaluation.qualifying_leads(v2).filter(~Q(stage=Stage.CUSTOMER)).count()
    stdout.write(
        f"mql: v{v1.version} active ({len(promoted)} MQLs handed over, {open_count} waiting), "
        f"{LeadFeedback.objects.count()} outcomes ({outcomes} recorded here), draft v{v2.version} awaiting sales "
        f"({qualifying} leads would qualify) ({time.monotonic() - started:.1f} s)"
    )
    if v2.status != DefinitionStatus.DRAFT:  # pragma: no cover - the policy of a fresh tenant needs sales too
        stdout.write("mql: warning: the demo draft was activated by the marketing approval alone")
