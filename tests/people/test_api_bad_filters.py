"""Every management API filter answers 400 with the parameter and the reason for values the
database cannot hold (NUL, date-times out of range once in UTC, numbers too large), never 500."""

import pytest

pytestmark = pytest.mark.django_db

FAR_FUTURE = "9999-12-31T23:00:00-23:00"  # year 10000 in UTC
FAR_PAST = "0001-01-01T00:00:00+23:00"  # year 0 in UTC
OUT_OF_RANGE = "Out of range: years 1 to 9999 once converted to UTC."
NUL = "Must not contain a NUL character."


@pytest.mark.parametrize(
    "path,params,field,reason",
    [
        ("/api/people/", {"created_after": FAR_FUTURE}, "created_after", OUT_OF_RANGE),
        ("/api/people/", {"created_after": FAR_PAST}, "created_after", OUT_OF_RANGE),
        ("/api/people/", {"modified_after": FAR_FUTURE}, "modified_after", OUT_OF_RANGE),
        ("/api/people/", {"last_contacted": "after", "at": FAR_FUTURE}, "at", OUT_OF_RANGE),
        ("/api/people/", {"last_contacted": "more_than", "days": "1e30"}, "days", None),
        ("/api/people/", {"email": "a\x00b@example.com"}, "email", NUL),
        ("/api/people/", {"country": "\x00"}, "country", NUL),
        ("/api/people/", {"search": "\x00"}, "search", NUL),
        ("/api/people/", {"cursor": "\x00"}, "cursor", NUL),
        ("/api/people/", {"x\x00y": "1"}, "xy", NUL),
        ("/api/events/", {"since": FAR_FUTURE}, "since", OUT_OF_RANGE),
        ("/api/events/", {"until": FAR_PAST}, "until", OUT_OF_RANGE),
        ("/api/events/", {"name": "\x00"}, "name", NUL),
        ("/api/events/", {"channel": "\x00"}, "channel", NUL),
        ("/api/jobs/", {"kind": "\x00"}, "kind", NUL),
        ("/api/attribute-definitions/", {"type": "\x00"}, "type", NUL),
        ("/api/event-definitions/", {"is_contact": "\x00"}, "is_contact", NUL),
        ("/api/computed-attributes/", {"key": "\x00"}, "key", NUL),
        ("/api/computed-attributes/", {"group": "\x00"}, "group", NUL),
        ("/api/channels/%00/", {}, "pk", NUL),
        ("/api/computed-attributes/%00/", {}, "pk", NUL),
    ],
)
def test_unusable_filter_values_are_400_naming_the_parameter(client, admin_user, path, params, field, reason):
    # given a staff user of the management API
    client.force_login(admin_user)
    # when a filter carries a value the database cannot hold
    response = client.get(path, params)
    # then the answer is 400 naming the parameter (and the reason where it is ours)
    assert response.status_code == 400, response.content
    body = response.json()
    assert field in body
    if reason:
        assert body[field] == [reason]


@pytest.mark.parametrize(
    "params",
    [
        {"created_after": "9999-12-31T00:00:00Z"},
        {"created_after": "0001-01-02T00:00:00+23:00"},
        {"created_after": "2024-01-01T00:00:00+02:00", "email": "jane@example.com"},
    ],
)
def test_extreme_but_valid_filter_values_are_answered(client, admin_user, make_person, params):
    # given a person created now
    make_person(email="jane@example.com")
    client.force_login(admin_user)
    # when the list is filtered at the edge of the supported range
    response = client.get("/api/people/", params)
    # then it is answered normally
    assert response.status_code == 200
    expected = 0 if params["created_after"].startswith("9999") else 1
    assert len(response.json()["results"]) == expected
