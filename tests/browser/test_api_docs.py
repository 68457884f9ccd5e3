"""The API documentation opens under the site's Content-Security-Policy and lists the operations."""

import pytest

from tests.browser.conftest import shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_swagger_docs_render_the_operations_with_local_assets_only(live, new_page, users):
    page = new_page(user=users["admin"])
    outside = []
    page.on(
        "request",
        lambda request: request.url.startswith((live.url, f"blob:{live.url}", "data:")) or outside.append(request.url),
    )
    page.goto(f"{live.url}/api/docs/")
    page.wait_for_selector(".opblock-summary-path", timeout=20_000)
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert any("/api/v1/leads/" in path for path in paths), paths[:10]
    assert len(paths) >= 20
    assert outside == []
    shot(page, "api-docs")


def test_the_old_redoc_address_leads_to_the_docs(client):
    response = client.get("/api/redoc/")
    assert response.status_code == 302 and response["Location"] == "/api/docs/"
