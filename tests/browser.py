"""Browser fixtures for every browser test (Debian's chromium driven by Playwright): ``browser``,
``browser_page`` (1280×900, French) and ``no_script_page`` (JavaScript off). Loaded by conftest."""

import os
import shutil

import pytest
from django.db import connections

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
def browser(monkeypatch):
    if not CHROMIUM:
        if os.environ.get("CMTCH_REQUIRE_BROWSER"):
            pytest.fail("chromium is required here (CMTCH_REQUIRE_BROWSER) but is not installed")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls the test makes are
    # still synchronous ones.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        yield browser
        browser.close()
        # ORM calls made while Playwright's loop runs get connections of their own (Django keys
        # them by context); close them here, or PostgreSQL cannot drop the test database.
        connections.close_all()


@pytest.fixture
def browser_page(browser):
    page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    page.set_default_timeout(20_000)
    return page


@pytest.fixture
def no_script_page(browser):
    """An editor whose browser runs no JavaScript: the admin's plain forms must do everything."""
    page = browser.new_context(java_script_enabled=False, locale="fr-FR").new_page()
    page.set_default_timeout(20_000)
    return page
