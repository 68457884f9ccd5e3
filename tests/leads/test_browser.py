"""The lead pages in headless Chromium on demo data: search, bulk assign, inline edit, CSV import with
preview, quality, settings, duplicates and merge — with screenshots in artifacts/screenshots/leads-*.png
and no browser console errors (CSP violations included).

Run with `pytest -m browser tests/leads/test_browser.py`.
"""

import io
import os
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from leads import demo
from leads.models import DuplicateCandidate, Lead
from tenants.context import tenant_scope

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
SCREENSHOTS = Path(settings.BASE_DIR) / "artifacts" / "screenshots"


def page_as(browser, live_server, user, errors):
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    context = browser.new_context(locale="ja-JP", viewport={"width": 1440, "height": 1000})
    context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )
    page = context.new_page()
    page.set_default_timeout(20000)
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    return page


def shot(page, name, full_page=True):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"leads-{name}.png"), full_page=full_page)


def test_lead_pages(live_server, browser, tenant, users, tmp_path):
    with tenant_scope(tenant.id):
        demo.build_demo(tenant=tenant, lead_count=600, stdout=io.StringIO())
        hot = Lead.objects.exclude(last_activity_at=None).order_by("-last_activity_at").first()
    base = f"{live_server.url}/t/{tenant.slug}/leads/"
    errors: list[str] = []
    page = page_as(browser, live_server, users["marketing"], errors)

    page.goto(base)
    page.locator("#lead-table tbody tr").first.wait_for()
    shot(page, "list", full_page=False)

    page.locator("#f-q").fill("山田")
    page.locator("#f-q").press("Enter")
    page.wait_for_url("**q=*")
    page.wait_for_load_state("networkidle")
    shot(page, "list-search", full_page=False)
    names = page.locator("#lead-table a.row-link").all_inner_texts()
    assert names and all("山田" in name for name in names), names

    page.locator("#lead-table input[name=ids]").nth(0).check()
    page.locator("#lead-table input[name=ids]").nth(1).check()
    assert page.locator("[data-selected-count]").inner_text() == "2"
    page.locator("#bulk-owner").select_option(str(users["sales"].pk))
    page.locator("button[name=action][value=owner]").click()
    page.locator("#messages .toast").first.wait_for()
    shot(page, "list-bulk", full_page=False)

    page.goto(base + f"{hot.pk}/")
    page.locator("#attr-title button").click()
    page.locator("#attr-title input[name$=value]").fill("情報システム部 部長")
    shot(page, "detail-edit", full_page=False)
    page.locator("#attr-title button[type=submit]").click()
    page.locator("#attr-title .attr-value", has_text="情報システム部 部長").wait_for()
    with tenant_scope(tenant.id):
        assert Lead.objects.get(pk=hot.pk).title == "情報システム部 部長"
    shot(page, "detail")

    csv_path = tmp_path / "展示会リード.csv"
    csv_path.write_bytes(
        "メールアドレス,氏名,会社名,役職,従業員数,流入経路\r\n"
        "kimura@newco.example.jp,木村 拓也,株式会社ニューコ,課長,250,展示会・イベント\r\n"
        "not-an-email,佐藤 花子,サンプル商事,,多い,FAX\r\n"
        "ito@newco.example.jp,伊藤 愛,株式会社ニューコ,担当,250,ウェビナー\r\n".encode("cp932")
    )
    page.goto(base + "import/")
    page.locator("input[type=file]").set_input_files(str(csv_path))
    page.locator("form[enctype] button[type=submit]").click()
    page.locator("#import-preview .cell-error").first.wait_for()
    page.locator("select[name=col_3]").select_option("department")
    page.wait_for_load_state("networkidle")
    shot(page, "import-mapping")
    page.locator("select[name=col_3]").select_option("title")
    page.wait_for_load_state("networkidle")
    page.locator("form[action$='/start/'] button[type=submit]").click()
    page.locator(".stat-value").first.wait_for()
    shot(page, "import-result")

    page.goto(base + "quality/")
    page.locator("canvas").first.wait_for()
    shot(page, "quality")

    page.goto(base + "settings/")
    shot(page, "settings")

    with tenant_scope(tenant.id):
        pair = DuplicateCandidate.objects.first()
    page.goto(base + "duplicates/")
    shot(page, "duplicates", full_page=False)
    page.goto(base + f"{pair.lead_a_id}/merge/?other={pair.lead_b_id}")
    shot(page, "merge", full_page=False)

    empty = page_as(browser, live_server, users["admin"], errors)
    empty.goto(base + "?q=存在しない名前")
    shot(empty, "list-no-match", full_page=False)

    assert errors == []
