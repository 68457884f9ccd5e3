"""Demo data for KPIs (runs after the leads and scoring builders, inside the tenant scope).

Builds the rollups, enters a year of channel spend, saves a plan for the current fiscal year from the
seed's example (company target ¥50億, a share from the web, quarters of a quarter each), adds the
KSFs and nurturing targets, records a few review decisions and evaluates the review rules. Fast (no
per-lead work here; the rollups are one set-based rebuild).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from decimal import ROUND_HALF_UP, Decimal

from tenants.models import Membership, Role

from . import alerts, rollups, selectors, services
from .models import ChannelSpend, KpiSettings
from .periods import Period
from .planning import DEFAULT_ASSUMPTIONS, RATE_FIELDS, ChannelInput, PlanInputs

# A typical cost per lead by channel key (seed 001's table: ¥900–¥15,000 depending on the channel).
TYPICAL_CPA = {
    "seo": 3000,
    "listing": 9000,
    "ads": 9000,
    "webinar": 12000,
    "email": 1500,
    "event": 15000,
    "referral": 2000,
    "sns": 5000,
    "social": 5000,
}
COMPANY_REVENUE = Decimal("5000000000")  # ¥50億 (seed 004)


def _noise(*parts) -> Decimal:
    """A deterministic factor between 0.85 and 1.15."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return Decimal(85 + digest[0] % 31) / Decimal(100)


def _round(value: Decimal, step: int) -> Decimal:
    return (Decimal(value) / step).quantize(Decimal(1), ROUND_HALF_UP) * step


def build_demo(*, tenant, lead_count: int, stdout) -> None:
    started = time.monotonic()
    KpiSettings.objects.get_or_create()
    services.review_rules_ensure_defaults()
    rollups.refresh(full=True)

    today = selectors.current_period("month").start
    year = selectors.current_period("year")
    months = [today.replace(day=1)]
    for _ in range(14):
        months.append(Period("month", months[-1]).previous().start)

    # Spend: leads of the month × the channel's typical CPA, ±15 %.
    history = selectors.channel_history(months=15)
    channels = [h["channel"] for h in history if h["channel"]] or list(TYPICAL_CPA)[:5]
    leads_by_month = {}
    for month in months:
        for channel, totals in selectors.totals_by(Period("month", month), "channel", events=["lead"]).items():
            leads_by_month[(channel, month)] = totals.get("lead", (0, 0))[0]
    entries = []
    for channel in channels:
        cpa = Decimal(TYPICAL_CPA.get(channel, 5000))
        for month in months:
            leads = leads_by_month.get((channel, month), 0) or max(1, lead_count // 200)
            entries.append((channel, month, _round(leads * cpa * _noise(channel, month), 1000)))
    ChannelSpend.objects.filter(month__in=months).delete()
    services.spend_save(entries=entries, actor=None)

    # The plan: ¥50億 company target, the web's share sized to the tenant's recent revenue (1 % = the
    # seed's ¥5,000万 when there is no history), rates from history where there is enough.
    measured = selectors.measured_rates()
    trailing = sum(
        (
            t.get("won", (0, Decimal(0)))[1]
            for t in selectors.totals_many([Period("month", m) for m in months[1:13]]).values()
        ),
        Decimal(0),
    )
    share = Decimal(1)
    if trailing > 0:
        share = max(
            Decimal("0.1"),
            min(
                Decimal(100),
                (trailing * Decimal("1.15") * 100 / COMPANY_REVENUE).quantize(Decimal("0.1"), ROUND_HALF_UP),
            ),
        )
    deal = measured["avg_deal_size"]["value"] if measured["avg_deal_size"]["enough"] else Decimal(1_250_000)
    rates = {
        name: (measured[name]["value"] if measured[name]["enough"] else DEFAULT_ASSUMPTIONS[name])
        for name in RATE_FIELDS
    }
    total_share = sum((Decimal(h["share"] or 0) for h in history if h["channel"]), Decimal(0))
    plan_channels = []
    if total_share:
        shares = [
            (h["channel"], (Decimal(h["share"] or 0) * 100 / total_share).quantize(Decimal(1)))
            for h in history
            if h["channel"]
        ]
        shares[0] = (shares[0][0], shares[0][1] + (Decimal(100) - sum(s for _c, s in shares)))
        plan_channels = [
            ChannelInput(channel=c, share_percent=s, cpa=Decimal(TYPICAL_CPA.get(c, 5000))) for c, s in shares
        ]
    inputs = PlanInputs(
        goal_type="revenue",
        company_revenue=COMPANY_REVENUE,
        web_share_percent=share,
        avg_deal_size=_round(deal, 10000),
        channels=plan_channels,
        **rates,
    )
    kgi = services.plan_save(period=year, inputs=inputs, actor=None, title="Web経由の受注売上")

    # Success factors (seed 002's example) and nurturing targets for the year (seed 003).
    services.ksf_save(
        kgi=kgi,
        title="商談の質を高める",
        description="MQLの定義を営業と合意し、商談化しやすいリードを渡す",
        kpis=["mql_to_sql_rate", "sql_to_opportunity_rate", "opportunities", "win_rate"],
        actor=None,
    )
    services.ksf_save(
        kgi=kgi,
        title="リードナーチャリングを強化する",
        description="メールとウェビナーで検討段階を進め、ホットリードを増やす",
        kpis=["mqls", "email_open_rate", "webinar_attendance_rate", "document_requests"],
        actor=None,
    )
    services.ksf_save(
        kgi=kgi, title="Webからの問い合わせを効率よく増やす", description="", kpis=["leads", "cpa"], actor=None
    )
    for code, value in (
        ("email_open_rate", 20),
        ("email_click_rate", 5),
        ("webinar_attendance_rate", 60),
        ("survey_response_rate", 40),
        ("meeting_rate", 3),
        ("nurture_days", 90),
    ):
        services.target_set(kpi=code, period=year, value=Decimal(value), actor=None, kgi=kgi)

    # A few decisions of past review meetings.
    members = {m.role: m.user for m in Membership.objects.filter(tenant=tenant).select_related("user")}
    sales, marketing = members.get(Role.SALES), members.get(Role.MARKETING)
    last = Period("month", months[1])
    before = last.previous()
    log = [
        (
            before,
            "mql_to_sql_rate",
            "SQL化率が前月比で下がった。展示会リードの温度感が低いと営業から指摘。",
            "展示会リードはフォローメール2通を経てからMQLにする(MQL定義の改定案を出す)",
            marketing,
            14,
            "done",
        ),
        (
            last,
            "opportunities",
            "商談数が2か月続けて目標未達。ホットリードへの初回架電が48時間を超えている。",
            "ホットリードは当日中に架電する運用に変更。未対応リストを毎朝確認する",
            sales,
            7,
            "open",
        ),
        (
            last,
            "webinar_attendance_rate",
            "ウェビナー参加率が低い(申込者の半分以下)。",
            "前日と1時間前にリマインドメールを送る",
            marketing,
            21,
            "open",
        ),
    ]
    for period, code, finding, action, owner, days, status in log:
        entry = services.review_entry_create(
            period=period,
            kpi=code,
            finding=finding,
            action=action,
            owner=owner,
            due_on=period.end + dt.timedelta(days=days),
            actor=marketing,
        )
        if status == "done":
            services.review_entry_set_status(entry=entry, status="done", actor=marketing)
    fired = alerts.evaluate()
    stdout.write(
        f"kpis: plan {year.label} ({kgi.target_value:,.0f} JPY), {len(entries)} spend rows, "
        f"{len(fired)} review alerts in {time.monotonic() - started:.1f} s"
    )
