"""Screenshots of the MQL pages on the demo data (artifacts/screenshots/mql-*.png), checking on the way
that the demo builder's story is visible: an active version, a draft waiting for sales, MQLs in the
inbox with deadlines, and feedback figures in the report."""

import io
from pathlib import Path

import pytest
from django.conf import settings

from mql import demo as mql_demo
from mql.models import MqlDefinition
from scoring import demo as scoring_demo
from tenants.context import tenant_scope
from tests.factories import member

from .conftest import SCREENSHOTS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_demo_screens(live, new_page, tenant, users):
    member(tenant, "sales", email="sales2@acme.example")
    with tenant_scope(tenant.id):
        scoring_demo.build_demo(tenant=tenant, lead_count=0, stdout=io.StringIO())
        mql_demo.build_demo(tenant=tenant, lead_count=0, stdout=io.StringIO())
        draft = MqlDefinition.objects.get(status="draft")
    base = f"{live.url}/t/{tenant.slug}/scoring/"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    marketing = new_page(user=users["marketing"])
    marketing.goto(base + f"mql/v{draft.version}/")
    marketing.locator("#impact [data-testid=qualifying-now]").wait_for()
    assert marketing.locator("#comments .timeline-item").count() == 3
    marketing.screenshot(path=str(SCREENSHOTS / "mql-editor.png"), full_page=False)
    marketing.locator("#id_min_score").fill("50")
    marketing.locator("#id_min_score").blur()
    marketing.locator("#impact .badge-warning").wait_for()
    marketing.locator("#impact").screenshot(path=str(SCREENSHOTS / "mql-editor-impact.png"))
    marketing.goto(base + "mql/")
    marketing.screenshot(path=str(SCREENSHOTS / "mql-overview.png"), full_page=True)

    sales = new_page(user=users["sales"])
    sales.goto(base + "inbox/")
    rows = sales.locator("tr[id^=lead-row-]")
    assert rows.count() >= 1
    rows.first.locator("a.row-link").click()
    sales.locator("#lead-pane .timeline").wait_for()
    sales.wait_for_load_state("networkidle")  # the score explanation fragment loads after the pane
    sales.screenshot(path=str(SCREENSHOTS / "mql-inbox.png"), full_page=False)
    rows.first.locator("summary", has_text="却下").click()
    sales.screenshot(path=str(SCREENSHOTS / "mql-inbox-reject.png"), full_page=False)
    sales.goto(base + "feedback/report/")
    assert int(sales.get_by_test_id("decided").inner_text()) > 0
    sales.screenshot(path=str(SCREENSHOTS / "mql-report.png"), full_page=True)
    assert Path(settings.BASE_DIR, "artifacts", "screenshots", "mql-inbox.png").exists()
