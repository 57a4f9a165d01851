import pytest
from django.db import connection

from tests import factories


@pytest.fixture
def make_person(db):
    return factories.make_person


@pytest.fixture
def make_channel(db):
    return factories.make_channel


@pytest.fixture
def make_source(db):
    return factories.make_source


@pytest.fixture
def make_event(db):
    return factories.make_event


@pytest.fixture
def admin_user(db):
    return factories.make_staff_user("alice", role="Admin")


@pytest.fixture
def marketeer_user(db):
    return factories.make_staff_user("mark", role="Marketeer")


@pytest.fixture
def page(live_server):
    """A page of a fresh headless Chromium (tests/browser.py) for a test against the live server."""
    from tests.browser import chromium_page

    with chromium_page() as opened:
        yield opened


@pytest.fixture
def on_postgres():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "browser" in item.keywords:  # a real Chromium against a live server: always slow
            item.add_marker(pytest.mark.slow)
    if connection.vendor != "postgresql" and not _database_url_is_postgres():
        skip = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL)")
        for item in items:
            if "postgres" in item.keywords:
                item.add_marker(skip)


def _database_url_is_postgres() -> bool:
    import os

    return os.environ.get("DATABASE_URL", "").startswith(("postgres", "postgresql"))


@pytest.fixture(autouse=True)
def _fresh_process_caches():
    """Per-process read caches (Profile API tokens, identifier policy) start empty in every test."""
    from identity.api.auth import forget_cached_tokens
    from identity.policy import forget_cached_policy

    forget_cached_tokens()
    forget_cached_policy()
    yield
