"""End to end in headless Chromium: a marketing member drafts an MQL definition (seeing its impact
live), a sales member comments and approves it, and the new version is active.

Uses the browser harness of tests/browser/conftest.py (Debian's Chromium, the live server running
as the app database role, pages that fail on console errors, CSP violations or 5xx).
"""

import pytest

from mql.models import DefinitionStatus, MqlDefinition
from tenants.context import tenant_scope
from tests.mql.factories import lead

from .conftest import SCREENSHOTS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_marketing_drafts_and_sales_approves(live, new_page, tenant, users):
    with tenant_scope(tenant.id):
        for score in (40, 55, 66, 72, 85, 91):
            lead(score_total=score, segment="hot" if score >= 80 else "warm" if score >= 50 else "cold")
    base = f"{live.url}/t/{tenant.slug}/scoring/mql/"

    marketing = new_page(user=users["marketing"])
    marketing.goto(base)
    marketing.get_by_test_id("new-draft").click()
    marketing.wait_for_url("**/mql/v1/")
    assert marketing.get_by_test_id("qualifying-now").inner_text() == "2"  # default minimum score 80
    marketing.locator("#id_min_score").fill("65")
    marketing.locator("#id_min_score").blur()
    marketing.locator("#impact .badge-warning").wait_for()  # the preview of the unsaved change
    assert marketing.get_by_test_id("qualifying-now").inner_text() == "4"
    marketing.locator("#id_sql_criteria").fill("決裁者と連絡が取れること")
    marketing.get_by_test_id("save-draft").click()
    marketing.locator("#conditions .badge-success").wait_for()
    marketing.get_by_test_id("approve").click()
    marketing.locator("[data-testid=requirement-marketing] .badge-success").wait_for()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    marketing.screenshot(path=str(SCREENSHOTS / "mql-editor-flow.png"), full_page=True)
    with tenant_scope(tenant.id):
        draft = MqlDefinition.objects.get(version=1)
        assert (draft.status, draft.min_score) == (DefinitionStatus.DRAFT, 65)

    sales = new_page(user=users["sales"])
    sales.goto(base + "v1/")
    sales.locator("#id_body").fill("予算の確認は営業側でします。承認します。")
    sales.get_by_test_id("post-comment").click()
    sales.get_by_text("予算の確認は営業側でします。承認します。").wait_for()
    sales.get_by_test_id("approve").click()
    sales.wait_for_load_state("networkidle")
    sales.locator(".page-title .badge-success").wait_for()
    assert "有効" in sales.locator(".page-title").inner_text()
    with tenant_scope(tenant.id):
        active = MqlDefinition.objects.get(version=1)
        assert active.status == DefinitionStatus.ACTIVE and active.activated_by == users["sales"]
        assert active.comments.count() == 1
