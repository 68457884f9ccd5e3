"""Demo data: a realistic Japanese B2B prospect base (bulk inserts; a few seconds).

~3,000 leads across the channels, with Japanese names, companies, titles, departments, industries and
sizes; about six months of activity (engagement varies a lot, as it does in reality: most leads are
quiet, a few are hot); stage history for the leads that moved on; sales owners taken from the tenant's
sales members; a few duplicates and bad addresses so that the data-quality page has something to say.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import secrets

from django.db import connection
from django.utils import timezone

from tenants.models import Membership, Role

from . import services
from .models import (
    ActivityTypes,
    CustomFieldDefinition,
    FormEndpoint,
    IngestMapping,
    Lead,
    LeadStageChange,
    Stage,
)
from .normalize import normalize_company, normalize_name
from .validation import size_band_for

FAMILY = [
    ("佐藤", "sato"),
    ("鈴木", "suzuki"),
    ("高橋", "takahashi"),
    ("田中", "tanaka"),
    ("伊藤", "ito"),
    ("渡辺", "watanabe"),
    ("山本", "yamamoto"),
    ("中村", "nakamura"),
    ("小林", "kobayashi"),
    ("加藤", "kato"),
    ("吉田", "yoshida"),
    ("山田", "yamada"),
    ("佐々木", "sasaki"),
    ("山口", "yamaguchi"),
    ("松本", "matsumoto"),
    ("井上", "inoue"),
    ("木村", "kimura"),
    ("林", "hayashi"),
    ("斎藤", "saito"),
    ("清水", "shimizu"),
    ("山崎", "yamazaki"),
    ("森", "mori"),
    ("池田", "ikeda"),
    ("橋本", "hashimoto"),
    ("阿部", "abe"),
    ("石川", "ishikawa"),
    ("山下", "yamashita"),
    ("中島", "nakajima"),
    ("石井", "ishii"),
    ("小川", "ogawa"),
    ("前田", "maeda"),
    ("岡田", "okada"),
    ("長谷川", "hasegawa"),
    ("藤田", "fujita"),
    ("後藤", "goto"),
    ("近藤", "kondo"),
    ("村上", "murakami"),
    ("遠藤", "endo"),
    ("青木", "aoki"),
    ("坂本", "sakamoto"),
]
GIVEN = [
    ("翔太", "shota"),
    ("大輔", "daisuke"),
    ("健太", "kenta"),
    ("拓也", "takuya"),
    ("直樹", "naoki"),
    ("誠", "makoto"),
    ("亮", "ryo"),
    ("剛", "tsuyoshi"),
    ("和也", "kazuya"),
    ("大樹", "daiki"),
    ("浩二", "koji"),
    ("隆", "takashi"),
    ("美咲", "misaki"),
    ("陽子", "yoko"),
    ("恵", "megumi"),
    ("彩", "aya"),
    ("由美", "yumi"),
    ("真由美", "mayumi"),
    ("愛", "ai"),
    ("裕子", "yuko"),
    ("麻衣", "mai"),
    ("智子", "tomoko"),
    ("奈々", "nana"),
    ("優子", "yuko"),
    ("香織", "kaori"),
]
COMPANY_HEADS = [
    ("東京", "tokyo"),
    ("日本", "nihon"),
    ("大和", "yamato"),
    ("中央", "chuo"),
    ("北陸", "hokuriku"),
    ("関西", "kansai"),
    ("富士", "fuji"),
    ("三和", "sanwa"),
    ("東邦", "toho"),
    ("大洋", "taiyo"),
    ("未来", "mirai"),
    ("協和", "kyowa"),
    ("サンライズ", "sunrise"),
    ("アーク", "arc"),
    ("ネクスト", "next"),
    ("光", "hikari"),
    ("みらい", "mirai-i"),
    ("青葉", "aoba"),
    ("桜", "sakura"),
    ("ユニバーサル", "universal"),
    ("グローバル", "global"),
    ("新星", "shinsei"),
    ("丸紅", "maru"),
    ("葵", "aoi"),
    ("東海", "tokai"),
]
COMPANY_CORES = [
    ("テック", "tech", "IT・ソフトウェア"),
    ("システムズ", "systems", "IT・ソフトウェア"),
    ("ソフトウェア", "soft", "IT・ソフトウェア"),
    ("ネットワークス", "networks", "情報通信業"),
    ("製作所", "works", "製造業"),
    ("工業", "kogyo", "製造業"),
    ("精機", "seiki", "製造業"),
    ("電機", "denki", "製造業"),
    ("化学", "chemical", "製造業"),
    ("商事", "shoji", "卸売・小売業"),
    ("物産", "bussan", "卸売・小売業"),
    ("建設", "kensetsu", "建設業"),
    ("不動産", "estate", "不動産業"),
    ("ロジスティクス", "logi", "運輸・物流"),
    ("メディカル", "medical", "医療・福祉"),
    ("フーズ", "foods", "食品"),
    ("コンサルティング", "consulting", "サービス業"),
    ("人材サービス", "hr", "人材サービス"),
    ("ファイナンス", "finance", "金融・保険業"),
    ("エデュケーション", "edu", "教育"),
]
TITLES = [
    ("代表取締役", 2),
    ("取締役", 3),
    ("執行役員", 3),
    ("部長", 12),
    ("次長", 5),
    ("課長", 16),
    ("係長", 8),
    ("主任", 10),
    ("マネージャー", 8),
    ("リーダー", 6),
    ("担当", 27),
]
DEPARTMENTS = [
    ("情報システム部", 16),
    ("営業部", 18),
    ("マーケティング部", 16),
    ("経営企画部", 8),
    ("総務部", 8),
    ("人事部", 6),
    ("DX推進室", 8),
    ("購買部", 5),
    ("カスタマーサクセス部", 5),
    ("製造部", 5),
    ("経理部", 5),
]
CHANNELS = [
    ("seo", 26),
    ("listing_ads", 16),
    ("webinar", 15),
    ("online_conference", 7),
    ("email", 10),
    ("sns", 6),
    ("referral", 7),
    ("event", 10),
    ("other", 3),
]
CAMPAIGNS = {
    "seo": ["オウンドメディア：営業DXの始め方", "料金ページ自然流入", "比較記事：MAツール選び"],
    "listing_ads": ["検索広告：リード管理ツール", "検索広告：営業支援", "リターゲティング 秋"],
    "webinar": ["9月 DXウェビナー", "10月 営業効率化ウェビナー", "11月 MA活用ウェビナー"],
    "online_conference": ["オンライン展示会 2026 秋", "SaaS Summit 2026"],
    "email": ["メルマガ 10月号", "メルマガ 11月号", "ホワイトペーパー案内"],
    "sns": ["LinkedIn 広告", "X キャンペーン"],
    "referral": ["パートナー紹介", "既存顧客紹介"],
    "event": ["Japan IT Week 秋", "営業DX EXPO", "地方商談会 大阪"],
    "other": [""],
}
ACTIVITY_WEIGHTS = [
    (ActivityTypes.PAGE_VIEW, 40),
    (ActivityTypes.EMAIL_OPEN, 22),
    (ActivityTypes.EMAIL_CLICK, 8),
    (ActivityTypes.DOWNLOAD, 7),
    (ActivityTypes.PRICING_VIEW, 4),
    (ActivityTypes.FORM_START, 3),
    (ActivityTypes.FORM_SUBMIT, 3),
    (ActivityTypes.WEBINAR_REGISTER, 4),
    (ActivityTypes.WEBINAR_ATTEND, 3),
    (ActivityTypes.SURVEY_ANSWER, 2),
    (ActivityTypes.DEMO_REQUEST, 1),
    (ActivityTypes.MEETING, 1),
]
PAGES = [
    "/",
    "/product",
    "/product/features",
    "/case-studies",
    "/blog/sales-dx",
    "/blog/lead-scoring",
    "/resources",
    "/company",
    "/integrations",
    "/security",
]
NEEDS = [
    "営業とマーケの指標がそろっていない",
    "リードの優先順位付けが属人的",
    "展示会リードのフォローが遅い",
    "Excelでのリード管理に限界",
    "MAツールを入れたが活用できていない",
    "商談化率を上げたい",
]


def _weighted(rng: random.Random, pairs):
    values, weights = zip(*pairs, strict=True)
    return rng.choices(values, weights=weights, k=1)[0]


def _insert_activities(tenant_id: int, rows: list[tuple], now: dt.datetime) -> None:
    """Tens of thousands of append-only rows: one executemany (several times faster than building
    model instances; values adapted by the backend exactly as the ORM would)."""
    adapt = connection.ops.adapt_datetimefield_value
    received = adapt(now)
    with connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO leads_activity (tenant_id, lead_id, anonymous_id, user_id, type, occurred_at, url, "
            "campaign, properties, source, external_id, received_at) "
            "VALUES (%s, %s, '', '', %s, %s, %s, %s, %s, 'demo', NULL, %s)",
            [
                (tenant_id, lead_id, kind, adapt(moment), url, campaign, properties, received)
                for lead_id, kind, moment, url, campaign, properties in rows
            ],
        )


def build_demo(*, tenant, lead_count: int, stdout) -> None:
    """Create the demo leads, activities and stage history for `tenant` (run inside its scope)."""
    rng = random.Random(20261122)  # nosec B311 - demo data, deterministic on purpose
    now = timezone.now()
    sales_ids = list(
        Membership.objects.filter(tenant=tenant, role__in=[Role.SALES, Role.ADMIN]).values_list("user_id", flat=True)
    )
    sales_only = list(Membership.objects.filter(tenant=tenant, role=Role.SALES).values_list("user_id", flat=True))
    owners = sales_only or sales_ids

    CustomFieldDefinition.objects.bulk_create(
        [
            CustomFieldDefinition(
                key="product_interest",
                label="検討製品",
                field_type="choice",
                choices=["営業支援", "MA", "CRM連携"],
                position=0,
            ),
            CustomFieldDefinition(key="booth_visit", label="展示会ブース来場", field_type="boolean", position=1),
        ]
    )
    FormEndpoint.objects.create(
        key="contact",
        name="お問い合わせフォーム",
        token=secrets.token_urlsafe(24),
        field_map={"email": "email", "name": "name", "company": "company", "message": "need", "phone": "phone"},
        channel="seo",
        campaign="Webサイト問い合わせ",
    )
    IngestMapping.objects.create(kind="event", source="Whitepaper Requested", target=ActivityTypes.DOWNLOAD)

    companies = []
    for index in range(max(60, lead_count // 6)):
        head, head_r = COMPANY_HEADS[index % len(COMPANY_HEADS)]
        core, core_r, industry = COMPANY_CORES[(index // len(COMPANY_HEADS) + index) % len(COMPANY_CORES)]
        form = rng.random()
        name = (
            f"株式会社{head}{core}"
            if form < 0.55
            else f"{head}{core}株式会社"
            if form < 0.92
            else f"合同会社{head}{core}"
            if form < 0.97
            else f"有限会社{head}{core}"
        )
        employees = int(min(30000, max(3, math.exp(rng.gauss(4.6, 1.5)))))
        companies.append((name, f"{head_r}-{core_r}{index}.co.jp", industry, employees))

    leads: list[Lead] = []
    plans = []
    used_emails: set[str] = set()
    for index in range(lead_count):
        family, family_r = rng.choice(FAMILY)
        given, given_r = rng.choice(GIVEN)
        company, domain, industry, employees = rng.choice(companies)
        email = f"{given_r}.{family_r}@{domain}"
        if email in used_emails:
            email = f"{given_r}.{family_r}{index}@{domain}"
        used_emails.add(email)
        channel = _weighted(rng, CHANNELS)
        first_seen = now - dt.timedelta(days=rng.uniform(1, 182), hours=rng.uniform(0, 23))
        engagement = rng.random()
        hot = engagement > 0.93
        stage = Stage.LEAD
        roll = rng.random()
        if hot or roll > 0.86:
            stage = _weighted(
                rng,
                [
                    (Stage.MQL, 40),
                    (Stage.SQL, 25),
                    (Stage.OPPORTUNITY, 15),
                    (Stage.CUSTOMER, 8),
                    (Stage.DISQUALIFIED, 7),
                    (Stage.RECYCLED, 5),
                ],
            )
        advanced = stage not in (Stage.LEAD,)
        lead = Lead(
            email=email,
            name=f"{family} {given}",
            company=company,
            title=_weighted(rng, TITLES),
            department=_weighted(rng, DEPARTMENTS),
            employee_count=employees if rng.random() < 0.7 else None,
            industry=industry if rng.random() < 0.82 else "",
            phone=f"0{rng.randint(3, 9)}-{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}"
            if rng.random() < 0.6
            else "",
            channel=channel,
            campaign=rng.choice(CAMPAIGNS[channel]),
            stage=stage,
            owner_id=rng.choice(owners) if owners and (advanced or rng.random() < 0.15) else None,
            first_seen_at=first_seen,
            created_at=first_seen,
            updated_at=first_seen,
            custom_fields={"product_interest": rng.choice(["営業支援", "MA", "CRM連携"])} if rng.random() < 0.3 else {},
            unsubscribed=rng.random() < 0.03,
        )
        if lead.employee_count is None and rng.random() < 0.5:
            lead.size_band = size_band_for(employees)
        elif lead.employee_count:
            lead.size_band = size_band_for(lead.employee_count)
        if advanced or rng.random() < 0.12:
            lead.authority = rng.choice(["decision_maker", "influencer", "none", ""])
            lead.budget = rng.choice(["secured", "planned", "none", ""])
            lead.timing = rng.choice(["within_3m", "within_6m", "within_12m", "later", ""])
            lead.need = rng.choice(NEEDS) if rng.random() < 0.7 else ""
        lead.company_normalized = normalize_company(lead.company)
        lead.name_normalized = normalize_name(lead.name)
        leads.append(lead)
        plans.append((first_seen, engagement, hot, stage))

    # A few people registered twice (another address, same company and name) and a few typos.
    for offset in range(max(3, lead_count // 300)):
        original = leads[rng.randrange(len(leads))]
        twin = Lead(
            **{
                f.attname: getattr(original, f.attname)
                for f in Lead._meta.concrete_fields
                if f.attname not in ("id", "email")
            }
        )
        twin.email = f"{original.email.split('@')[0]}.{offset}@gmail.com"
        twin.stage = Stage.LEAD
        leads.append(twin)
        plans.append((original.first_seen_at, 0.2, False, Stage.LEAD))
    for offset in range(3):
        broken = leads[rng.randrange(len(leads))]
        broken.email = broken.email.replace(".co.jp", "").replace("@", f"{offset}@")  # lost its TLD

    # Plan the activity and the stage path first, so every lead row is written once (no updates after).
    timelines: list[list[tuple[dt.datetime, str]]] = []
    paths: list[list[tuple[str, str, dt.datetime]]] = []
    for lead, (first_seen, engagement, hot, stage) in zip(leads, plans, strict=True):
        span = (now - first_seen).total_seconds()
        count = int(engagement**3 * 30) + (rng.randint(8, 20) if hot else 0) + (1 if rng.random() < 0.85 else 0)
        moments = sorted(first_seen + dt.timedelta(seconds=rng.uniform(0, span)) for _ in range(count))
        if hot and moments:
            moments[-1] = now - dt.timedelta(hours=rng.uniform(1, 72))
            moments.sort()
        events = []
        for position, moment in enumerate(moments):
            if position == 0 and lead.channel in ("seo", "listing_ads"):
                kind = ActivityTypes.FORM_SUBMIT
            elif position == 0 and lead.channel == "webinar":
                kind = ActivityTypes.WEBINAR_REGISTER
            elif hot and rng.random() < 0.15:
                kind = rng.choice([ActivityTypes.PRICING_VIEW, ActivityTypes.DEMO_REQUEST, ActivityTypes.DOWNLOAD])
            else:
                kind = _weighted(rng, ACTIVITY_WEIGHTS)
            events.append((moment, kind))
        timelines.append(events)
        lead.last_activity_at = moments[-1] if moments else None
        steps = {
            Stage.MQL: [Stage.MQL],
            Stage.SQL: [Stage.MQL, Stage.SQL],
            Stage.OPPORTUNITY: [Stage.MQL, Stage.SQL, Stage.OPPORTUNITY],
            Stage.CUSTOMER: [Stage.MQL, Stage.SQL, Stage.OPPORTUNITY, Stage.CUSTOMER],
            Stage.DISQUALIFIED: [Stage.MQL, Stage.DISQUALIFIED],
            Stage.RECYCLED: [Stage.MQL, Stage.RECYCLED],
        }.get(stage, [])
        previous, moment, path = Stage.LEAD, first_seen, []
        for step in steps:
            moment = min(now, moment + dt.timedelta(days=rng.uniform(2, 25)))
            path.append((previous, step, moment))
            previous = step
        paths.append(path)
        if path:
            lead.stage_changed_at = moment

    Lead.objects.bulk_create(leads, batch_size=1000)
    if any(lead.pk is None for lead in leads):  # databases that do not return ids from bulk inserts
        ids = dict(Lead.objects.values_list("email", "id"))
        for lead in leads:
            lead.pk = ids[lead.email]

    site = "https://www.sampletech.example.jp"
    activity_rows = [
        (
            lead.pk,
            kind,
            moment,
            site + "/pricing"
            if kind == ActivityTypes.PRICING_VIEW
            else site + PAGES[(lead.pk + position) % len(PAGES)]
            if kind == ActivityTypes.PAGE_VIEW
            else "",
            lead.campaign if position == 0 else "",
            '{"title": "営業DX入門ガイド"}' if kind == ActivityTypes.DOWNLOAD else "{}",
        )
        for lead, events in zip(leads, timelines, strict=True)
        for position, (moment, kind) in enumerate(events)
    ]
    changes = [
        LeadStageChange(
            lead_id=lead.pk,
            from_stage=old,
            to_stage=new,
            changed_at=moment,
            changed_by_id=lead.owner_id if new != Stage.MQL else None,
            reason="予算なし・時期未定" if new == Stage.DISQUALIFIED else "",
        )
        for lead, path in zip(leads, paths, strict=True)
        for old, new, moment in path
    ]
    _insert_activities(tenant.id, activity_rows, now)
    LeadStageChange.objects.bulk_create(changes, batch_size=5000)
    with connection.cursor() as cursor:
        # Planner statistics now, not when autovacuum gets round to it: with none, the first full recompute
        # on these fresh tables picks nested loops (minutes instead of a fraction of a second).
        cursor.execute("ANALYZE leads_lead, leads_activity, leads_leadstagechange")
    flagged = services.duplicates_flag(None)  # the whole tenant
    stdout.write(
        f"  leads: {len(leads):,} leads, {len(activity_rows):,} activities, {len(changes):,} stage changes, "
        f"{flagged} duplicate candidates"
    )
