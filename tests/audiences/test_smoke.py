from datetime import timedelta

from tests.audiences.conftest import member_ids

GERMANS = {"condition": {"attribute": "country", "op": "equals", "value": "DE"}}


def test_rules_and_funnel_activate(make_person, make_event, known, anonymous, make_audience, now):
    # given
    ann = known(make_person(first_name="Ann", country="DE"))
    bob = known(make_person(first_name="Bob", country="FR"))
    anon = anonymous(make_person(first_name="Anon", country="DE"))
    make_event(ann, "Product Added", at=now - timedelta(hours=3), properties={"product_id": "p1"})
    make_event(ann, "Order Completed", at=now - timedelta(hours=2), properties={"product_id": "p1"})
    make_event(ann, "Product Added", at=now - timedelta(hours=1, minutes=30), properties={"product_id": "p2"})
    make_event(bob, "Product Added", at=now - timedelta(hours=3), properties={"product_id": "p1"})
    make_event(bob, "Order Completed", at=now - timedelta(hours=2), properties={"product_id": "p1"})
    # when
    de = make_audience("germans", GERMANS, activate=True, now=now)
    cart = make_audience(
        "abandoned",
        {
            "steps": [
                {"event": "Product Added"},
                {
                    "event": "Order Completed",
                    "did_not": True,
                    "within": {"value": 1, "unit": "hours"},
                    "filters": [{"property": "product_id", "same_as": "product_id"}],
                },
            ]
        },
        audience_type="funnel",
        activate=True,
        now=now,
    )
    # then
    assert member_ids(de) == {ann.pk}
    assert member_ids(cart) == {ann.pk}
    assert anon.pk not in member_ids(de)
