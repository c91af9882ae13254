"""GraphiQL in a real browser: it loads with no request leaving 127.0.0.1 and runs a query.

Needs Debian's Chromium (/usr/bin/chromium). On a developer machine without it these tests
skip; in CI (CI is set) a missing Chromium is a failure, and .ci/run installs it.
"""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command

from django_project.properties.models import Property
from tests.conftest import serve_asgi

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Flags that keep Chromium from calling home (updates, sync, safe browsing, QUIC probes).
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
TYPED_QUERY = '{ properties(filters: {city: {exact: "Evanston"}}) { totalCount } }'


@pytest.fixture
def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("Chromium is required in CI: .ci/run installs Debian's chromium package.")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    return path


@pytest.fixture
def server(settings) -> Iterator[str]:
    """The ASGI app under uvicorn on a free loopback port, as `make demo` serves it."""
    settings.GRAPHIQL_ENABLED = True
    settings.SERVESTATIC_USE_FINDERS = True
    with serve_asgi() as url:
        yield url


def test_graphiql_loads_offline_and_runs_a_typed_query(server, chromium):
    # given
    from playwright.sync_api import Route, sync_playwright

    call_command("seed_demo", count=200, stdout=io.StringIO())
    expected = Property.objects.filter(city="Evanston").count()
    assert expected > 0
    outside: list[str] = []
    page_errors: list[str] = []

    def keep_it_local(route: Route) -> None:
        url = route.request.url
        if url.startswith("data:") or urlsplit(url).hostname == "127.0.0.1":
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.on("pageerror", lambda exc: page_errors.append(str(exc)))
            page.route("**/*", keep_it_local)

            # when: the IDE opens with its default query
            page.goto(f"{server}/graphql/", wait_until="networkidle")
            page.wait_for_selector(".graphiql-query-editor .CodeMirror", timeout=20_000)
            default_query = page.evaluate(
                "document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.getValue()"
            )

            # and a query is typed and run with the keyboard
            page.click(".graphiql-query-editor .CodeMirror-lines")
            page.keyboard.press("Control+A")
            page.keyboard.press("Delete")
            page.keyboard.type(TYPED_QUERY, delay=5)
            page.keyboard.press("Escape")  # close any autocomplete popup
            typed = page.evaluate(
                "document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.getValue()"
            )
            # GraphiQL re-derives the operation name from the editor after a debounce; a person
            # pauses between typing and running, and so does this test.
            page.wait_for_timeout(1000)
            page.keyboard.press("Control+Enter")
            page.wait_for_function(
                "document.querySelector('.graphiql-response .CodeMirror')"
                "?.CodeMirror.getValue().includes('totalCount')",
                timeout=20_000,
            )
            result = page.evaluate(
                "document.querySelector('.graphiql-response .CodeMirror').CodeMirror.getValue()"
            )
        finally:
            browser.close()

    # then
    assert outside == []
    assert page_errors == []
    assert "query ActiveProperties" in default_query
    assert typed == TYPED_QUERY
    assert f'"totalCount": {expected}' in result
