from datetime import UTC, datetime

import pytest

from computed import plans, refresh, selectors, services
from computed.models import ComputedAttribute
from computed.selectors import person_values


@pytest.fixture(autouse=True)
def _fresh_plans():
    plans.clear_cache()
    refresh.clear_cache()
    yield
    plans.clear_cache()
    refresh.clear_cache()


@pytest.fixture
def now():
    return datetime(2024, 6, 15, 12, 0, tzinfo=UTC)


@pytest.fixture
def make_computed(db):
    def make(key: str, kind: str, definition, *, activate: bool = False, **fields) -> ComputedAttribute:
        attribute = services.computed_attribute_create(
            key=key,
            name=fields.pop("name", key.replace("_", " ").title()),
            kind=kind,
            definition=definition,
            **fields,
        )
        if activate:
            attribute = services.activate(attribute)
        return attribute

    return make


@pytest.fixture
def stored_value():
    """The stored (SQL-computed) value of an attribute for a person, empty value applied."""

    def read(attribute: ComputedAttribute, person) -> object:
        return person_values(person_id=person.pk)[attribute.key]["value"]

    return read


@pytest.fixture
def python_value():
    """The Python evaluator's value of an attribute's definition for a person."""

    def read(attribute: ComputedAttribute, person, now=None) -> object:
        return selectors.run_profile_test(
            kind=attribute.kind, definition=attribute.definition, person=person, now=now
        )["value"]

    return read


@pytest.fixture
def add_form(page, live_server, admin_user):
    """The shared Chromium page (tests/conftest.py), signed in as the Admin, on the empty
    computed-attribute form."""
    from tests.browser import login

    login(page, live_server, admin_user, "/admin/computed/computedattribute/add/")
    return page
