"""What the browser tests share: Debian's Chromium driven by Playwright (sync API) against pytest-django's
live server, and the admin login. The ``page`` fixture (tests/conftest.py) opens a page of
``chromium_page``.

    from tests.browser import login, pytestmark  # noqa: F401  (skip marks)
"""

import contextlib
import os
import shutil

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
# Skipped without Chromium, unless CI (which installs it) sets ATTUNE_REQUIRE_BROWSER=1.
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None and not os.environ.get("ATTUNE_REQUIRE_BROWSER"),
        reason="Chromium is not installed (CI installs it and sets ATTUNE_REQUIRE_BROWSER=1)",
    ),
]
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop


@contextlib.contextmanager
def chromium_page(width: int = 1440, height: int = 1000):
    """A page of a fresh headless Chromium, closed afterwards."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser.new_page(viewport={"width": width, "height": height})
        finally:
            browser.close()


def login(page, live_server, user, next_url: str = "/admin/") -> None:
    """Sign in through the admin's login form (the test users' password is "pw") and land on
    ``next_url``."""
    page.goto(f"{live_server.url}/admin/login/?next={next_url}")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", "pw")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}{next_url}")


def browser_test(test):
    """The marks of a browser test, for one test of a module that has others."""
    for mark in reversed(pytestmark):
        test = mark(test)
    return test
