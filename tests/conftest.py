import pytest
from django.db import connection

from tests import factories


def _factory_fixture(factory):
    """A fixture of the same name handing out ``factory`` (tests/factories.py), with the database."""

    def fixture(db):
        return factory

    return pytest.fixture(fixture, name=factory.__name__)


make_person = _factory_fixture(factories.make_person)
make_channel = _factory_fixture(factories.make_channel)
make_source = _factory_fixture(factories.make_source)
make_event = _factory_fixture(factories.make_event)


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
def api(admin_user):
    """A management API client, authenticated with a token of the Admin user."""
    from rest_framework.test import APIClient

    from identity.staff_tokens import management_token_create

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {management_token_create(user=admin_user).raw}")
    return client


@pytest.fixture
def api_as(db):
    """``api_as(user)``: a management API client authenticated with a new token of ``user``."""
    from rest_framework.test import APIClient

    from identity.staff_tokens import management_token_create

    def client_for(user) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {management_token_create(user=user).raw}")
        return client

    return client_for


@pytest.fixture
def identifier_types(request):
    """The default identifier types (a flush after a transactional test removes the migration's rows).

    The identity, privacy and actions tests use it for every test (``autouse`` in their conftest)."""
    from identity.policy import ensure_default_types

    if request.node.get_closest_marker("django_db") is None and not (
        {"db", "transactional_db"} & set(request.fixturenames)
    ):
        return
    request.getfixturevalue("db" if "transactional_db" not in request.fixturenames else "transactional_db")
    ensure_default_types()


@pytest.fixture
def source(make_source):
    """A source named Website (on a new channel)."""
    return make_source("Website").source


@pytest.fixture
def ingest(source):
    """Ingest messages from the ``source`` fixture (or another one: ``src=``)."""
    from identity.services import ingest_batch

    def run(*messages, src=None, **kwargs):
        return ingest_batch(source=src or source, messages=list(messages), **kwargs)

    return run


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


# The rows data migrations create (django-q2 schedules, default identifier types): a transactional
# test ends with a flush that removes them, and with --reuse-db a database can start without them.
MIGRATION_ROWS = [
    (
        "identity.migrations.0001_squashed_0004_profile_api_token_names_and_hashed_management_tokens",
        "create_defaults",
    ),
    ("people.migrations.0001_squashed_0010_pending_change_event_names", "create_schedule"),
    ("computed.migrations.0001_squashed_0006_out_of_range", "create_schedule"),
    ("audiences.migrations.0002_sliding_window_schedule", "create_schedule"),
    ("actions.migrations.0002_due_webhooks_schedule", "create_schedule"),
    ("privacy.migrations.0002_daily_housekeeping_schedule", "create_schedule"),
]


DB_FIXTURES = {"db", "transactional_db", "django_db_reset_sequences", "live_server"}


@pytest.fixture(scope="module", autouse=True)
def _migration_rows(request, django_db_blocker):
    """Every test module that uses the database starts with the rows the migrations created, as on
    a new installation (the create functions keep existing rows as they are)."""
    import importlib

    from django.apps import apps

    if not any(
        item.get_closest_marker("django_db") or DB_FIXTURES & set(getattr(item, "fixturenames", ()))
        for item in request.session.items
        if getattr(item, "module", None) is request.module
    ):
        return
    request.getfixturevalue("django_db_setup")
    with django_db_blocker.unblock():
        for module, function in MIGRATION_ROWS:
            getattr(importlib.import_module(module), function)(apps, None)


@pytest.fixture(autouse=True)
def _fresh_process_caches():
    """Per-process read caches (Profile API tokens, identifier policy, definitions) start empty in
    every test."""
    from identity.api.auth import forget_cached_tokens
    from people.caching import clear_all

    forget_cached_tokens()
    clear_all()
    yield
