from datetime import UTC, datetime

import pytest

from audiences import definition as definitions
from audiences import membership, services
from audiences.models import Audience
from identity.models import IdentifierType, Identity
from people.selectors import organization_tz


@pytest.fixture(autouse=True)
def _fresh_compiled():
    membership.clear_cache()
    yield
    membership.clear_cache()


@pytest.fixture
def now():
    return datetime(2024, 6, 15, 12, 0, tzinfo=UTC)


@pytest.fixture
def known(db):
    """A person with a known (non-anonymous) identifier."""

    def make(person, value: str | None = None):
        id_type, _ = IdentifierType.objects.get_or_create(key="user_id", defaults={"priority": 1})
        Identity.objects.create(type=id_type, value=value or f"u{person.pk}", person=person)
        return person

    return make


@pytest.fixture
def anonymous(db):
    def make(person, value: str | None = None):
        id_type, _ = IdentifierType.objects.get_or_create(
            key="anonymous_id", defaults={"anonymous": True, "priority": 50}
        )
        Identity.objects.create(type=id_type, value=value or f"a{person.pk}", person=person, anonymous=True)
        return person

    return make


@pytest.fixture
def make_audience(db):
    def make(key: str, definition, *, audience_type="rules", activate=False, now=None, **fields) -> Audience:
        audience = services.audience_create(
            key=key,
            name=fields.pop("name", key.replace("_", " ").title()),
            audience_type=audience_type,
            definition=definition,
            **fields,
        )
        if activate:
            audience = services.activate(audience, now=now)
        return audience

    return make


def member_ids(audience: Audience) -> set[int]:
    audience.refresh_from_db()
    return set(audience.memberships.filter(version=audience.version).values_list("person_id", flat=True))


def member_names(people: dict, audience: Audience) -> set[str]:
    """The names (keys of ``people``) of the audience's current members."""
    ids = member_ids(audience)
    return {name for name, person in people.items() if person.pk in ids}


def assert_members(audience: Audience, people: dict, expected: set[str], *, now: datetime) -> None:
    """The stored (SQL) membership and the Python explain both name exactly the expected people."""
    assert member_names(people, audience) == expected
    compiled = definitions.compile_audience(audience)
    python = {
        name
        for name, person in people.items()
        if definitions.evaluate(compiled, person, now=now, tz=organization_tz())["matched"]
    }
    assert python == expected
