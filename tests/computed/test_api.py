"""The management API: /api/computed-attributes/ (CRUD, activate, disable, duplicate, test, where used)."""

from datetime import timedelta

from django.utils import timezone
from rest_framework.test import APIClient

from computed import selectors
from computed.models import ComputedAttribute

URL = "/api/computed-attributes/"
COUNT = {"function": "count", "event": "Order Completed"}


def test_crud_and_lifecycle_over_http(api, make_person, make_event, django_capture_on_commit_callbacks):
    person = make_person()
    make_event(person, "Order Completed")
    make_event(person, "Order Completed")
    # create a draft
    created = api.post(
        URL, {"key": "orders", "name": "Orders", "kind": "aggregate", "definition": COUNT}, format="json"
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert (body["state"], body["output_type"], body["progress"]) == ("draft", "integer", None)
    pk = body["id"]
    # edit it
    edited = api.patch(f"{URL}{pk}/", {"name": "All orders"}, format="json")
    assert edited.status_code == 200 and edited.json()["name"] == "All orders"
    # test it on a profile, also with an unsaved definition
    tested = api.post(f"{URL}{pk}/test/", {"person": person.pk}, format="json").json()
    assert tested["value"] == 2 and tested["explanation"]["matched_events"] == 2
    tried = api.post(
        f"{URL}{pk}/test/", {"person": person.pk, "definition": {**COUNT, "exclude": "first"}}, format="json"
    ).json()
    assert tried["value"] == 1
    # activate (a job; tasks run inline in tests)
    with django_capture_on_commit_callbacks(execute=True):
        activated = api.post(f"{URL}{pk}/activate/")
    assert activated.status_code == 202 and activated.json()["job"]
    detail = api.get(f"{URL}{pk}/").json()
    assert (detail["state"], detail["progress"]) == ("active", 100)
    # active: no edits; duplicate instead
    assert api.patch(f"{URL}{pk}/", {"name": "x"}, format="json").status_code == 400
    copy = api.post(f"{URL}{pk}/duplicate/", {}, format="json")
    assert copy.status_code == 201 and copy.json()["key"] == "orders_copy"
    # where used, disable, delete
    assert api.get(f"{URL}{pk}/where-used/").json() == {"used_by": []}
    assert api.post(f"{URL}{pk}/disable/").json()["state"] == "disabled"
    assert api.delete(f"{URL}{pk}/").status_code == 204
    assert not ComputedAttribute.objects.filter(pk=pk).exists()


def test_errors_are_field_precise(api):
    response = api.post(
        URL,
        {"key": "f", "name": "F", "kind": "formula", "definition": {"formula": "round(1,"}},
        format="json",
    )
    assert response.status_code == 400
    assert "column 9" in response.json()["definition.formula"][0]


def test_delete_in_use_is_refused(api, db):
    from computed import services

    orders = services.activate(
        services.computed_attribute_create(key="orders", name="Orders", kind="aggregate", definition=COUNT)
    )
    services.computed_attribute_create(
        key="f", name="F", kind="formula", definition={"formula": "orders + 1"}
    )
    response = api.delete(f"{URL}{orders.pk}/")
    assert response.status_code == 400
    assert "'f'" in str(response.json())
    assert api.get(f"{URL}{orders.pk}/where-used/").json() == {"used_by": ["computed attribute 'f' (draft)"]}


def test_list_filters_and_costs_constant_queries(api, db, django_assert_max_num_queries):
    from computed import services

    for i in range(5):
        services.computed_attribute_create(key=f"c{i}", name="C", kind="aggregate", definition=COUNT)
    with django_assert_max_num_queries(6):
        listed = api.get(URL, {"kind": "aggregate", "state": "draft"})
    assert len(listed.json()["results"]) == 5


def test_purchase_statistics_set(api, make_person, make_event, django_capture_on_commit_callbacks):
    # given a buyer with three orders 40, 45 and 50 days ago (inside the last 3 full months)
    buyer = make_person()
    now = timezone.now()
    for days, amount, category, product in [
        (40, 10.0, "shoes", "p1"),
        (45, 30.0, "hats", "p2"),
        (50, 20.0, "shoes", "p3"),
    ]:
        make_event(
            buyer,
            "Order Completed",
            at=now - timedelta(days=days),
            properties={"amount": amount, "category": category, "product": product},
        )
    # when the set is created and activated over the API
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"{URL}purchase-statistics/", {}, format="json")
    # then the 31 attributes are active
    assert response.status_code == 201
    keys = {a["key"] for a in response.json()["attributes"]}
    assert len(keys) == 31
    assert ComputedAttribute.objects.filter(group="purchase_statistics", state="active").count() == 31
    # and the buyer's statistics are the values of those orders
    values = {k: v["value"] for k, v in selectors.person_values(person_id=buyer.pk).items()}
    assert values["purchase_count_3m"] == 3
    assert values["purchase_amount_3m"] == 60.0
    assert values["purchase_average_3m"] == 20.0
    assert values["purchase_top_category_1_3m"] == "shoes"  # 30.0 of shoes against 30.0 of hats: more orders
    assert values["purchase_top_category_2_3m"] == "hats"
    assert values["purchase_top_category_3_3m"] is None
    assert values["purchase_first_at"] == (now - timedelta(days=50)).isoformat()
    assert values["purchase_last_at"] == (now - timedelta(days=40)).isoformat()


def test_marketeer_may_use_it_and_anonymous_may_not(api_as, marketeer_user, db):
    assert APIClient().get(URL).status_code == 401
    assert api_as(marketeer_user).get(URL).status_code == 200
