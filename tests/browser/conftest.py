"""Browser tests in Debian's Chromium (Playwright for Python, never `playwright install`) against
pytest-django's live_server.

- `browser`: one headless Chromium per session.
- `live`: the live server, whose database connections run as the application's role (row-level
  security applies, as in production: SET ROLE in the server's threads).
- `page` / `page_as(user)`: a page that FAILS the test on any console error, uncaught page error,
  failed request or 5xx answer — CSP violations are console errors in Chromium — with a screenshot
  helper `shot(page, name)` writing artifacts/screenshots/e2e-<name>.png (the path is printed).

`browser` (one Chromium for the whole session) lives in tests/conftest.py: Playwright's sync API
allows one running instance per thread, so every browser test shares it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from tests.reliability.approle import server_threads_as_app_role

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop

SCREENSHOTS = Path(settings.BASE_DIR) / "artifacts" / "screenshots"


@pytest.fixture
def live(live_server):
    """The live server, its database sessions running as the app role (not owner, not superuser)."""
    with server_threads_as_app_role():
        yield live_server


class PageGuard:
    def __init__(self):
        self.problems: list[str] = []

    def attach(self, page):
        page.on("console", lambda msg: msg.type == "error" and self.problems.append(f"console error: {msg.text}"))
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        page.on(
            "requestfailed",
            lambda request: self.problems.append(f"request failed: {request.method} {request.url} {request.failure}"),
        )
        page.on(
            "response",
            lambda response: (
                response.status >= 500
                and self.problems.append(f"server error: {response.status} {response.request.method} {response.url}")
            ),
        )
        return page


@pytest.fixture
def guard():
    """Collects console errors, CSP violations, failed requests and 5xx of every page of the test."""
    guard = PageGuard()
    yield guard
    assert not guard.problems, "the browser reported:\n" + "\n".join(guard.problems)


@pytest.fixture
def new_page(browser, live, guard):
    contexts = []

    def make(*, user=None, language: str = "ja-JP"):
        context = browser.new_context(locale=language, viewport={"width": 1366, "height": 900})
        contexts.append(context)
        if user is not None:
            client = Client()
            client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
            session = client.cookies[settings.SESSION_COOKIE_NAME].value
            context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live.url}])
        page = context.new_page()
        page.set_default_timeout(15_000)
        return guard.attach(page)

    yield make
    for context in contexts:
        context.close()


def shot(page, name: str) -> Path:
    """Full-page screenshot at artifacts/screenshots/e2e-<name>.png (path printed for CI)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"e2e-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path
