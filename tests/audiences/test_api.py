"""The management API /api/audiences/: lifecycle, preview, impact, members, history, explain, export,
and a table of bad inputs answered with paths (never a 500, nothing saved)."""

import csv
import hashlib
import io

import pytest

from audiences.models import Audience, RetiredAudienceKey
from people.models import AttributeDefinition

URL = "/api/audiences/"
GERMANS = {"condition": {"attribute": "country", "op": "equals", "value": "DE"}}


@pytest.fixture
def germans(make_person, known):
    ann = known(make_person(first_name="Ann", country="DE", email=" Ann@Example.com "))
    dee = known(make_person(first_name="Dee", country="de"))
    bob = known(make_person(first_name="Bob", country="FR"))
    return ann, dee, bob


def test_lifecycle_over_http(api, germans, django_capture_on_commit_callbacks):
    ann, dee, bob = germans
    # create a draft
    created = api.post(URL, {"key": "germans", "name": "Germans", "definition": GERMANS}, format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert (body["state"], body["type"], body["include_anonymous"], body["member_count"]) == (
        "draft",
        "rules",
        False,
        0,
    )
    pk = body["id"]
    # preview while building
    preview = api.post(f"{URL}preview/", {"definition": GERMANS}, format="json").json()
    assert preview["count"] == 2 and [p["name"] for p in preview["sample"]] == ["Ann", "Dee"]
    # edit the draft
    edited = api.patch(f"{URL}{pk}/", {"name": "People in Germany"}, format="json")
    assert edited.status_code == 200 and edited.json()["name"] == "People in Germany"
    # activate (a job, run after commit)
    with django_capture_on_commit_callbacks(execute=True):
        activated = api.post(f"{URL}{pk}/activate/")
    assert activated.status_code == 202 and activated.json()["job"]
    body = api.get(f"{URL}{pk}/").json()
    assert (body["state"], body["member_count"], body["progress"]) == ("active", 2, 100)
    # active definitions are not edited in place
    refused = api.patch(f"{URL}{pk}/", {"definition": {"condition": {"and": []}}}, format="json")
    assert refused.status_code == 400
    assert refused.json()["definition"] == ["a active audience cannot be edited; duplicate it"]
    # members with cursor pagination
    page1 = api.get(f"{URL}{pk}/members/", {"page_size": 1}).json()
    assert [m["person"] for m in page1["results"]] == [ann.pk] and page1["next"]
    page2 = api.get(page1["next"]).json()
    assert [m["person"] for m in page2["results"]] == [dee.pk] and page2["next"] is None
    # history
    history = api.get(f"{URL}{pk}/history/").json()["results"]
    assert sorted((h["person"], h["kind"]) for h in history) == [(ann.pk, "entered"), (dee.pk, "entered")]
    mine = api.get(f"{URL}{pk}/history/", {"person": dee.pk}).json()["results"]
    assert [(h["person"], h["kind"]) for h in mine] == [(dee.pk, "entered")]
    # explain
    explained = api.post(f"{URL}{pk}/explain/", {"person": bob.pk}, format="json").json()
    assert explained["member"] is False and explained["matched"] is False
    assert explained["steps"] == [
        {
            "kind": "attribute",
            "attribute": "country",
            "op": "equals",
            "value": "DE",
            "actual": "FR",
            "matched": False,
        }
    ]
    # duplicate, change, see the impact
    copy = api.post(f"{URL}{pk}/duplicate/", {"key": "dach"}, format="json")
    assert (
        copy.status_code == 201
        and copy.json()["duplicated_from"] == "germans"
        and copy.json()["state"] == "draft"
    )
    copy_pk = copy.json()["id"]
    api.patch(
        f"{URL}{copy_pk}/",
        {"definition": {"condition": {"attribute": "country", "op": "in", "value": ["fr", "at"]}}},
        format="json",
    )
    impact = api.get(f"{URL}{copy_pk}/impact/").json()
    assert (impact["added"]["count"], impact["removed"]["count"]) == (1, 2)
    assert [p["name"] for p in impact["added"]["sample"]] == ["Bob"]
    assert api.get(f"{URL}{pk}/impact/").status_code == 404
    # disable, delete, key never reused
    assert api.post(f"{URL}{pk}/disable/").json()["state"] == "disabled"
    assert api.delete(f"{URL}{pk}/").status_code == 204
    assert RetiredAudienceKey.objects.filter(key="germans").exists()
    again = api.post(URL, {"key": "germans", "name": "Again", "definition": GERMANS}, format="json")
    assert again.status_code == 400
    assert again.json()["key"] == ["'germans' was the key of a deleted audience and cannot be reused"]


def test_a_used_audience_cannot_be_deleted(api, make_audience):
    base = make_audience("germans", GERMANS, activate=True)
    make_audience("nested", {"condition": {"attribute": "audience:germans", "op": "equals", "value": True}})
    response = api.delete(f"{URL}{base.pk}/")
    assert response.status_code == 409
    assert response.json()["used_by"] == ["audience 'nested'"]
    assert Audience.objects.filter(key="germans").exists()


def test_cycles_are_refused_with_the_path(api, make_audience):
    make_audience("a", {"condition": {"and": []}})
    make_audience("b", {"condition": {"attribute": "audience:a", "op": "equals", "value": True}})
    a = Audience.objects.get(key="a")
    response = api.patch(
        f"{URL}{a.pk}/",
        {
            "definition": {
                "condition": {"or": [{"and": []}, {"attribute": "audience:b", "op": "equals", "value": True}]}
            }
        },
        format="json",
    )
    assert response.status_code == 400
    assert response.json() == {"definition.condition.or[1].attribute": ["cycle: a → b → a"]}


def test_export_csv_with_chosen_columns_and_hashed_emails(api, germans, make_audience):
    ann, dee, _ = germans
    AttributeDefinition.objects.create(key="plan", label="Plan", type="text")
    type(ann).objects.filter(pk=ann.pk).update(custom={"plan": "pro"})
    audience = make_audience("germans", GERMANS, activate=True)
    response = api.get(
        f"{URL}{audience.pk}/export/", {"columns": "uid,email_sha256,country,plan,identifier:user_id"}
    )
    assert response.status_code == 200 and response["Content-Type"] == "text/csv"
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    expected_hash = hashlib.sha256(b"ann@example.com").hexdigest()
    assert rows == [
        ["uid", "email_sha256", "country", "plan", "identifier:user_id"],
        [str(ann.uid), expected_hash, "DE", "pro", f"u{ann.pk}"],
        [str(dee.uid), "", "de", "", f"u{dee.pk}"],
    ]


BAD = [
    (
        {
            "key": "ok",
            "name": "x",
            "definition": {"condition": {"event": "A", "window": {"type": "since", "value": "yesterday"}}},
        },
        "definition.condition.window.value",
        "expected a date (YYYY-MM-DD) or an ISO 8601 date-time",
    ),
    (
        {
            "key": "ok",
            "name": "x",
            "definition": {"condition": {"attribute": "country", "op": "equals", "value": "D\u0000E"}},
        },
        "definition.condition.value",
        "NUL",
    ),
    (
        {
            "key": "ok",
            "name": "x",
            "type": "funnel",
            "definition": {"steps": [{"event": "A\ud800"}, {"event": "B"}]},
        },
        "definition.steps[0].event",
        "lone surrogates",
    ),
    ({"key": "Bad Key", "name": "x", "definition": GERMANS}, "key", "Use lower-case letters"),
    (
        {"key": "country", "name": "x", "definition": GERMANS},
        "key",
        "'country' is already the key of a standard attribute",
    ),
    (
        {"key": "ok", "name": "x", "type": "segment", "definition": GERMANS},
        "type",
        "This value does not match",
    ),
    ({"key": "ok", "name": "x", "definition": {}}, "definition.condition", "expected a condition"),
    ({"key": "ok", "name": "x", "definition": []}, "definition", "expected an object"),
    (
        {
            "key": "ok",
            "name": "x",
            "definition": {"condition": {"attribute": "nope", "op": "equals", "value": 1}},
        },
        "definition.condition.attribute",
        "unknown attribute 'nope'",
    ),
    (
        {
            "key": "ok",
            "name": "x",
            "definition": {
                "condition": {
                    "and": [{"event": "Buy", "filters": [{"property": "amount", "op": "gte", "value": "x"}]}]
                }
            },
        },
        "definition.condition.and[0].filters[0].value",
        "expected a number",
    ),
    (
        {
            "key": "ok",
            "name": "x",
            "definition": {"condition": {"event": "Buy", "count": {"op": "gte", "value": -1}}},
        },
        "definition.condition.count.value",
        "expected a whole number",
    ),
    (
        {
            "key": "ok",
            "name": "x",
            "definition": {"condition": {"attribute": "audience:missing", "op": "equals", "value": True}},
        },
        "definition.condition.attribute",
        "unknown attribute 'audience:missing'",
    ),
    (
        {"key": "ok", "name": "x", "type": "funnel", "definition": {"steps": [{"event": "A"}]}},
        "definition.steps",
        "expected at least two steps",
    ),
    (
        {"key": "ok", "name": "x", "type": "funnel", "definition": {"steps": "A"}},
        "definition.steps",
        "expected a list of steps",
    ),
    (
        {
            "key": "ok",
            "name": "x",
            "type": "funnel",
            "definition": {"steps": [{"event": "A", "did_not": True}, {"event": "B"}]},
        },
        "definition.steps[0].did_not",
        "the first step cannot be 'did not': it needs a previous step to follow",
    ),
    (
        {
            "key": "ok",
            "name": "x",
            "type": "funnel",
            "definition": {"steps": [{"event": "A"}, {"event": "B", "did_not": "yes"}, {"event": "C"}]},
        },
        "definition.steps[1].did_not",
        "expected true or false",
    ),
    (
        {
            "key": "ok",
            "name": "x",
            "type": "funnel",
            "definition": {"steps": [{"event": "A", "within": {"value": 1}}, {"event": "B"}]},
        },
        "definition.steps[0].within",
        "the first step has no previous step",
    ),
    (
        {
            "key": "ok",
            "name": "x",
            "type": "funnel",
            "definition": {
                "steps": [{"event": "A"}, {"event": "B", "within": {"value": 0, "unit": "hours"}}]
            },
        },
        "definition.steps[1].within.value",
        "expected a whole number ≥ 1",
    ),
    (
        {
            "key": "ok",
            "name": "x",
            "type": "funnel",
            "definition": {
                "steps": [{"event": "A"}, {"event": "B", "within": {"value": 1, "unit": "weeks"}}]
            },
        },
        "definition.steps[1].within.unit",
        "expected one of",
    ),
    (
        {
            "key": "ok",
            "name": "x",
            "type": "funnel",
            "definition": {"steps": [{"event": ""}, {"event": "B"}]},
        },
        "definition.steps[0].event",
        "expected an event name",
    ),
    (
        {
            "key": "ok",
            "name": "x",
            "type": "funnel",
            "definition": {
                "steps": [
                    {"event": "A"},
                    {"event": "B", "filters": [{"property": "p", "op": "lt", "value": "x"}]},
                ]
            },
        },
        "definition.steps[1].filters[0].value",
        "expected a number",
    ),
    (
        {
            "key": "ok",
            "name": "x",
            "type": "funnel",
            "definition": {
                "steps": [{"event": "A", "filters": [{"property": "p", "same_as": "p"}]}, {"event": "B"}]
            },
        },
        "definition.steps[0].filters[0].same_as",
        "the first step has no previous step",
    ),
    (
        {
            "key": "ok",
            "name": "x",
            "type": "funnel",
            "definition": {
                "steps": [{"event": "A"}, {"event": "B", "window": {"type": "within", "value": 1}}]
            },
        },
        "definition.steps[1].window",
        "only the first step has a window",
    ),
    (
        {
            "key": "ok",
            "name": "x",
            "definition": {
                "condition": {
                    "and": [{"not": {"event": "A", "window": {"type": "between", "value": 5, "end": 2}}}]
                }
            },
        },
        "definition.condition.and[0].not.window.end",
        "expected a whole number greater than value",
    ),
]


@pytest.mark.parametrize("payload,path,message", BAD, ids=[b[1] + ":" + b[2][:20] for b in BAD])
def test_bad_definitions_answer_400_with_the_path(api, payload, path, message):
    import json

    # sent as JSON text with \u escapes (a lone surrogate cannot be encoded otherwise)
    response = api.post(URL, json.dumps(payload), content_type="application/json")
    assert response.status_code == 400, response.content
    body = response.json()
    assert path in body, body
    assert any(message in m for m in body[path]), body[path]
    assert not Audience.objects.exists()
    # the builder's preview says the same
    if path.startswith("definition"):
        body = {k: v for k, v in payload.items() if k in ("type", "definition")}
        preview = api.post(f"{URL}preview/", json.dumps(body), content_type="application/json")
        assert preview.status_code == 400 and path in preview.json()


BAD_REQUESTS = [
    ("post", "{pk}/explain/", {"person": "x"}, 400, "person"),
    ("post", "{pk}/explain/", {"person": 999999}, 404, "detail"),
    ("get", "{pk}/export/?columns=uid,nope", None, 400, "columns"),
    ("get", "{pk}/history/?person=x", None, 400, "person"),
    ("get", "{pk}/export/?columns=,", None, 400, "columns"),
    ("post", "preview/", {"definition": "x", "type": "rules"}, 400, "definition"),
    ("post", "{pk}/refresh/", None, 400, "non_field_errors"),
    ("patch", "{pk}/", {"type": "funnel"}, 400, "type"),
    ("patch", "{pk}/", {"include_anonymous": True}, 400, "include_anonymous"),
    ("patch", "{pk}/", {"name": ""}, 400, "name"),
]


@pytest.mark.parametrize(
    "method,path,data,status,key", BAD_REQUESTS, ids=[f"{b[0]} {b[1]} {b[3]}" for b in BAD_REQUESTS]
)
def test_bad_requests_are_clear(api, make_audience, method, path, data, status, key):
    audience = make_audience("draft", GERMANS)
    response = getattr(api, method)(URL + path.format(pk=audience.pk), data, format="json")
    assert response.status_code == status, response.content
    assert key in response.json()
    assert Audience.objects.get(pk=audience.pk).type == "rules"


def test_marketeer_may_manage_audiences(api_as, marketeer_user, germans):
    client = api_as(marketeer_user)
    assert (
        client.post(URL, {"key": "g", "name": "G", "definition": GERMANS}, format="json").status_code == 201
    )
    assert client.get(URL).json()["results"][0]["key"] == "g"


def test_explain_and_impact_of_a_definition_that_no_longer_checks(api, make_person, known, make_audience):
    # given an audience on a custom attribute whose definition was deleted afterwards
    ann = known(make_person(first_name="Ann"))
    plan = AttributeDefinition.objects.create(key="plan", label="Plan", type="text")
    audience = make_audience(
        "pros", {"condition": {"attribute": "plan", "op": "equals", "value": "pro"}}, activate=True
    )
    from audiences.services import audience_duplicate

    copy = audience_duplicate(audience=audience, key="copy")
    plan.delete()
    # when / then: a clear answer, not a 500
    explained = api.post(f"{URL}{audience.pk}/explain/", {"person": ann.pk}, format="json")
    assert explained.status_code == 409
    assert "unknown attribute 'plan'" in explained.json()["definition"][0]
    assert api.get(f"{URL}{copy.pk}/impact/").status_code == 409
    # and a refresh records the failure, keeping the membership
    from audiences import membership

    other = make_audience("everyone", {"condition": {"and": []}}, activate=True)
    assert membership.refresh_people([ann.pk]) == 0  # the broken one is skipped, the others still run
    assert Audience.objects.get(pk=audience.pk).last_error.startswith("Real-time refresh skipped")
    assert other.memberships.filter(person=ann).exists()

    result = membership.refresh(audience.pk)
    assert "unknown attribute 'plan'" in result.error
    assert Audience.objects.get(pk=audience.pk).error_count == 2  # the real-time skip, then the refresh
