"""The shared base of the definition management APIs (people.api.definitions) as a client reads it in
the OpenAPI schema: each view set's routes carry its own serializers and descriptions."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture
def paths(client):
    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()["paths"]


def _body(operation: dict) -> str | None:
    body = operation.get("requestBody")
    return body and body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]


def _answers(operation: dict) -> dict:
    return {
        code: answer.get("content", {})
        .get("application/json", {})
        .get("schema", {})
        .get("$ref", "")
        .rsplit("/")[-1]
        for code, answer in operation["responses"].items()
    }


@pytest.mark.parametrize(
    ("base", "output", "create", "update", "duplicate", "description"),
    [
        (
            "/api/computed-attributes/",
            "ComputedAttribute",
            "ComputedAttributeCreateRequest",
            "ComputedAttributeUpdateRequest",
            "DuplicateRequest",
            "An editable draft copy (the way to change an active attribute).",
        ),
        (
            "/api/audiences/",
            "Audience",
            "AudienceCreateRequest",
            "AudienceUpdateRequest",
            "AudienceDuplicateRequest",
            "An editable draft copy (the way to change an active audience); its impact is shown.",
        ),
        (
            "/api/actions/",
            "Action",
            "ActionWriteRequest",
            "ActionWriteRequest",
            "ActionDuplicateRequest",
            "An inactive copy (properties, targeting, capping, hooks and test users included).",
        ),
    ],
)
def test_each_view_set_documents_the_shared_routes_with_its_own_serializers(
    paths, base, output, create, update, duplicate, description
):
    # given the schema a client downloads; when reading the shared routes of one view set
    collection, item, copy = paths[base], paths[f"{base}{{id}}/"], paths[f"{base}{{id}}/duplicate/"]
    # then each names that view set's serializers and status codes
    assert (_body(collection["post"]), _answers(collection["post"])) == (create, {"201": output})
    assert (_body(item["put"]), _answers(item["put"])) == (update, {"200": output})
    assert (_body(item["patch"]), _answers(item["patch"])) == (f"Patched{update}", {"200": output})
    assert _answers(item["delete"])["204"] == ""
    assert (_body(copy["post"]), _answers(copy["post"])) == (duplicate, {"201": output})
    assert copy["post"]["description"] == description
    # and no shared route borrows another's description or the base's
    assert "description" not in collection["post"] and "description" not in item["patch"]


def test_disable_is_a_route_of_the_lifecycle_definitions_only(paths):
    disable = paths["/api/computed-attributes/{id}/disable/"]["post"]
    assert (disable.get("requestBody"), _answers(disable)) == (None, {"200": "ComputedAttribute"})
    assert disable["description"] == "Stop updating; values stay on the profiles."
    assert _answers(paths["/api/audiences/{id}/disable/"]["post"]) == {"200": "Audience"}
    assert "/api/actions/{id}/disable/" not in paths


def test_a_route_a_view_set_defines_itself_keeps_its_own_schema(paths):
    # audiences answer a refused delete with where the audience is used
    delete = paths["/api/audiences/{id}/"]["delete"]
    assert _answers(delete) == {"204": "", "409": "AudienceWhereUsed"}
    assert delete["description"].startswith("Delete (refused with where it is used)")


GERMANS = {"condition": {"attribute": "country", "op": "equals", "value": "DE"}}
DRAFTS = {
    "/api/computed-attributes/": {
        "key": "plus",
        "name": "Plus",
        "kind": "formula",
        "definition": {"formula": "1"},
    },
    "/api/audiences/": {"key": "de", "name": "DE", "definition": GERMANS},
    "/api/actions/": {"name": "Banner", "type": "banner"},
}


@pytest.mark.parametrize(
    ("url", "put"),
    [("/api/computed-attributes/", {}), ("/api/audiences/", {}), ("/api/actions/", {"type": "banner"})],
)
def test_put_and_patch_change_what_they_name_and_keep_the_rest(api, url, put):
    # given a draft
    created = api.post(url, DRAFTS[url], format="json")
    assert created.status_code == 201, created.json()
    item = f"{url}{created.json()['id']}/"
    # when it is renamed by PATCH, then by PUT (an action's PUT names all its required fields)
    patched = api.patch(item, {"name": "Renamed"}, format="json")
    replaced = api.put(item, {**put, "name": "Again"}, format="json")
    # then both answer the definition as a GET shows it, with the new name and the rest kept
    assert patched.status_code == 200 and patched.json()["name"] == "Renamed"
    unchanged = {k: v for k, v in created.json().items() if k not in {"name", "updated_at"}}
    assert replaced.status_code == 200 and replaced.json()["name"] == "Again"
    assert {k: replaced.json()[k] for k in unchanged} == unchanged
    assert replaced.json() == api.get(item).json()


def test_put_of_an_action_needs_its_required_fields(api):
    # given an action
    item = f"/api/actions/{api.post('/api/actions/', DRAFTS['/api/actions/'], format='json').json()['id']}/"
    # when a PUT leaves out its type
    response = api.put(item, {"name": "Again"}, format="json")
    # then it is refused at that field, and nothing changed
    assert (response.status_code, response.json()) == (400, {"type": ["This field is required."]})
    assert api.get(item).json()["name"] == "Banner"


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        ("/api/computed-attributes/", {"name": "x" * 201}, "name"),
        ("/api/audiences/", {"key": "k" * 65}, "key"),
        ("/api/actions/", {"name": "x" * 201}, "name"),
        ("/api/actions/", {"name": ["a list"]}, "name"),
    ],
)
def test_a_bad_duplicate_is_refused_at_its_field_and_nothing_is_copied(api, url, body, field):
    # given a definition
    created = api.post(url, DRAFTS[url], format="json").json()
    before = api.get(url).json()
    # when its copy is asked for with a bad field
    response = api.post(f"{url}{created['id']}/duplicate/", body, format="json")
    # then the field is named and no copy exists
    assert response.status_code == 400 and list(response.json()) == [field], response.json()
    assert api.get(url).json() == before
