"""Golden member sets on a tiny data set: every operator family, every window, funnels (SQL refresh
and the Python explain agree on each)."""

from datetime import UTC, date, datetime, timedelta

import pytest

from audiences import definition as definitions
from audiences import membership
from audiences.models import Audience
from people.models import AttributeDefinition, Channel, PersonChannelContact
from people.selectors import organization_tz
from tests.audiences.conftest import member_ids

NOW = datetime(2024, 6, 15, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)
D = timedelta(days=1)


@pytest.fixture
def world(db, make_person, make_event, known):
    AttributeDefinition.objects.create(key="plan", label="Plan", type="text")
    AttributeDefinition.objects.create(key="ltv", label="LTV", type="decimal")
    AttributeDefinition.objects.create(key="vip", label="VIP", type="boolean")
    email = Channel.objects.create(key="email", name="Email")
    ann = known(
        make_person(
            first_name="Ann",
            country="DE",
            birth_date=date(1990, 1, 5),
            custom={"plan": "pro", "ltv": 120.5, "vip": True},
            last_contacted_at=NOW - 10 * D,
        )
    )
    bob = known(
        make_person(
            first_name="Bob", country="FR", custom={"plan": "free", "ltv": 5}, last_contacted_at=NOW - 2 * H
        )
    )
    cid = known(make_person(first_name="Cid", country="", custom={"vip": False}))
    dee = known(make_person(first_name="Dee", country="de", custom={"plan": "Pro"}))
    PersonChannelContact.objects.create(person=ann, channel=email, last_contacted_at=NOW - 3 * D)
    # Events: Ann bought 3× (recent), Bob once 40 days ago, Dee viewed; funnel material.
    for k in range(3):
        make_event(
            ann, "Order Completed", at=NOW - (k + 1) * D, properties={"amount": 10 * (k + 1), "sku": "A"}
        )
    make_event(bob, "Order Completed", at=NOW - 40 * D, properties={"amount": 99, "sku": "B"})
    make_event(dee, "Page Viewed", at=NOW - 2 * H, properties={"path": "/pricing"})
    # Funnels: Cid added p1, ordered p1, added p2 (abandoned p2); Dee added p1 30 minutes ago.
    make_event(cid, "Product Added", at=NOW - 5 * H, properties={"product_id": "p1"})
    make_event(cid, "Order Completed", at=NOW - 4 * H, properties={"product_id": "p1", "amount": 5})
    make_event(cid, "Product Added", at=NOW - 3 * H, properties={"product_id": "p2"})
    make_event(dee, "Product Added", at=NOW - 30 * timedelta(minutes=1), properties={"product_id": "p1"})
    make_event(bob, "Product Added", at=NOW - 50 * D, properties={"product_id": "p9"})
    make_event(bob, "Checkout Started", at=NOW - 50 * D + H, properties={"product_id": "p9"})
    return {"Ann": ann, "Bob": bob, "Cid": cid, "Dee": dee}


def names(world, ids):
    return {n for n, p in world.items() if p.pk in ids}


RULES = [
    (
        "text equals (case-insensitive)",
        {"attribute": "country", "op": "equals", "value": "DE"},
        {"Ann", "Dee"},
    ),
    (
        "text not_equals matches empty",
        {"attribute": "country", "op": "not_equals", "value": "de"},
        {"Bob", "Cid"},
    ),
    ("text is_empty", {"attribute": "country", "op": "is_empty"}, {"Cid"}),
    ("text in", {"attribute": "country", "op": "in", "value": ["fr", "xx"]}, {"Bob"}),
    ("custom text contains", {"attribute": "plan", "op": "contains", "value": "PR"}, {"Ann", "Dee"}),
    ("custom number gt", {"attribute": "ltv", "op": "gt", "value": 100}, {"Ann"}),
    ("custom number between", {"attribute": "ltv", "op": "between", "value": [0, 10]}, {"Bob"}),
    ("custom boolean", {"attribute": "vip", "op": "equals", "value": False}, {"Cid"}),
    ("date before", {"attribute": "birth_date", "op": "before", "value": "1995-01-01"}, {"Ann"}),
    ("date is_not_empty", {"attribute": "birth_date", "op": "is_not_empty"}, {"Ann"}),
    ("event happened any time", {"event": "Order Completed"}, {"Ann", "Bob", "Cid"}),
    ("event count gte 3", {"event": "Order Completed", "count": {"op": "gte", "value": 3}}, {"Ann"}),
    ("event count eq 1", {"event": "Order Completed", "count": {"op": "eq", "value": 1}}, {"Bob", "Cid"}),
    ("event count lt 1 (did not)", {"event": "Order Completed", "count": {"op": "lt", "value": 1}}, {"Dee"}),
    (
        "event count lte 1",
        {"event": "Order Completed", "count": {"op": "lte", "value": 1}},
        {"Bob", "Cid", "Dee"},
    ),
    ("event count gt 1", {"event": "Order Completed", "count": {"op": "gt", "value": 1}}, {"Ann"}),
    (
        "window within 30 days",
        {"event": "Order Completed", "window": {"type": "within", "value": 30}},
        {"Ann", "Cid"},
    ),
    (
        "window within 6 hours",
        {"event": "Order Completed", "window": {"type": "within", "value": 6, "unit": "hours"}},
        {"Cid"},
    ),
    (
        "window before the last 30 days",
        {"event": "Order Completed", "window": {"type": "before", "value": 30}},
        {"Bob"},
    ),
    (
        "window between 2 and 45 days",
        {"event": "Order Completed", "window": {"type": "between", "value": 2, "end": 45}},
        {"Ann", "Bob"},
    ),
    (
        "event property filter",
        {"event": "Order Completed", "filters": [{"property": "amount", "op": "gte", "value": 30}]},
        {"Ann", "Bob"},
    ),
    (
        "not event (did not, within)",
        {"not": {"event": "Page Viewed", "window": {"type": "within", "value": 1}}},
        {"Ann", "Bob", "Cid"},
    ),
    ("last contacted more than 7 days", {"last_contacted": {"op": "more_than", "value": 7}}, {"Ann"}),
    ("last contacted less than 1 day", {"last_contacted": {"op": "less_than", "value": 1}}, {"Bob"}),
    ("last contacted unknown", {"last_contacted": {"op": "unknown"}}, {"Cid", "Dee"}),
    (
        "last contacted on email exactly 3",
        {"last_contacted": {"op": "exactly", "value": 3, "channel": "email"}},
        {"Ann"},
    ),
    (
        "and/or/not",
        {
            "and": [
                {
                    "or": [
                        {"attribute": "country", "op": "equals", "value": "de"},
                        {"attribute": "country", "op": "equals", "value": "fr"},
                    ]
                },
                {"not": {"attribute": "plan", "op": "equals", "value": "pro"}},
            ]
        },
        {"Bob"},
    ),
    ("empty and is everyone", {"and": []}, {"Ann", "Bob", "Cid", "Dee"}),
    ("empty or is nobody", {"or": []}, set()),
]


@pytest.mark.parametrize("label,condition,expected", RULES, ids=[r[0] for r in RULES])
def test_rules_golden(world, make_audience, label, condition, expected):
    # when
    audience = make_audience("a", {"condition": condition}, activate=True, now=NOW)
    # then: the stored (SQL) membership and the Python explain agree with the expected people
    assert names(world, member_ids(audience)) == expected
    compiled = definitions.compile_audience(audience)
    python = {
        n
        for n, p in world.items()
        if definitions.evaluate(compiled, p, now=NOW, tz=organization_tz())["matched"]
    }
    assert python == expected


FUNNELS = [
    ("two steps", [{"event": "Product Added"}, {"event": "Order Completed"}], {"Bob", "Cid"}),
    (
        "three steps: over all instances",
        [{"event": "Product Added"}, {"event": "Order Completed"}, {"event": "Product Added"}],
        {"Cid"},
    ),
    (
        "did not, no limit (the funnel caveat)",
        [{"event": "Product Added"}, {"event": "Order Completed", "did_not": True}],
        {"Cid", "Dee"},
    ),
    (
        "did not within 1 hour: only after the hour",
        [
            {"event": "Product Added"},
            {"event": "Order Completed", "did_not": True, "within": {"value": 1, "unit": "hours"}},
        ],
        {"Bob", "Cid"},
    ),
    (
        "did not, same product",
        [
            {"event": "Product Added"},
            {
                "event": "Order Completed",
                "did_not": True,
                "filters": [{"property": "product_id", "same_as": "product_id"}],
            },
        ],
        {"Bob", "Cid", "Dee"},
    ),
    (
        "same product followed",
        [
            {"event": "Product Added"},
            {"event": "Order Completed", "filters": [{"property": "product_id", "same_as": "product_id"}]},
        ],
        {"Cid"},
    ),
    (
        "within limit met",
        [{"event": "Product Added"}, {"event": "Checkout Started", "within": {"value": 2, "unit": "hours"}}],
        {"Bob"},
    ),
    (
        "within limit missed",
        [
            {"event": "Product Added"},
            {"event": "Checkout Started", "within": {"value": 30, "unit": "minutes"}},
        ],
        set(),
    ),
    (
        "first-step window",
        [
            {"event": "Product Added", "window": {"type": "within", "value": 1}},
            {"event": "Order Completed", "did_not": True},
        ],
        {"Cid", "Dee"},
    ),
    (
        "step filter",
        [
            {"event": "Product Added"},
            {"event": "Order Completed", "filters": [{"property": "amount", "op": "gt", "value": 10}]},
        ],
        {"Bob"},
    ),
]


@pytest.mark.parametrize("label,steps,expected", FUNNELS, ids=[f[0] for f in FUNNELS])
def test_funnel_golden(world, make_audience, label, steps, expected):
    audience = make_audience("f", {"steps": steps}, audience_type="funnel", activate=True, now=NOW)
    assert names(world, member_ids(audience)) == expected
    compiled = definitions.compile_audience(audience)
    python = {
        n
        for n, p in world.items()
        if definitions.evaluate(compiled, p, now=NOW, tz=organization_tz())["matched"]
    }
    assert python == expected


def test_a_strictly_later_event_is_needed(make_person, make_event, known, make_audience):
    # given: the second step at the very same instant as the first
    ann = known(make_person(first_name="Ann"))
    make_event(ann, "A", at=NOW - H)
    make_event(ann, "B", at=NOW - H)
    # when
    audience = make_audience(
        "f", {"steps": [{"event": "A"}, {"event": "B"}]}, audience_type="funnel", activate=True, now=NOW
    )
    # then
    assert member_ids(audience) == set()


def test_abandoned_cart_is_not_abandoned_during_the_hour(make_person, make_event, known, make_audience):
    # given: a product added 30 minutes ago, nothing ordered
    ann = known(make_person(first_name="Ann"))
    make_event(ann, "Product Added", at=NOW - 30 * timedelta(minutes=1))
    steps = [
        {"event": "Product Added"},
        {"event": "Order Completed", "did_not": True, "within": {"value": 1, "unit": "hours"}},
    ]
    audience = make_audience("cart", {"steps": steps}, audience_type="funnel", activate=True, now=NOW)
    assert member_ids(audience) == set()
    # when: the hour passes (the scheduled re-evaluation)
    membership.refresh(audience.pk, now=NOW + H)
    # then
    assert member_ids(audience) == {ann.pk}
    assert Audience.objects.get(pk=audience.pk).sliding is True


def test_product_added_ordered_added_again_is_in_abandoned_cart(
    make_person, make_event, known, make_audience
):
    """The funnel caveat: over all instances of the parent step, not only the first."""
    ann = known(make_person(first_name="Ann"))
    make_event(ann, "Product Added", at=NOW - 3 * H, properties={"product_id": "p1"})
    make_event(ann, "Order Completed", at=NOW - 2 * H, properties={"product_id": "p1"})
    make_event(ann, "Product Added", at=NOW - 90 * timedelta(minutes=1), properties={"product_id": "p1"})
    steps = [
        {"event": "Product Added"},
        {"event": "Order Completed", "did_not": True, "within": {"value": 1, "unit": "hours"}},
    ]
    audience = make_audience("cart", {"steps": steps}, audience_type="funnel", activate=True, now=NOW)
    assert member_ids(audience) == {ann.pk}
    # and the explain names the open instance (the second Product Added)
    compiled = definitions.compile_audience(audience)
    explained = definitions.evaluate(compiled, ann, now=NOW, tz=organization_tz())
    last_added = ann.events.filter(name="Product Added").order_by("-timestamp").first()
    assert explained["steps"][-1]["matched_event_ids"] == [last_added.pk]


def test_audience_membership_condition(world, make_audience):
    de = make_audience(
        "germans",
        {"condition": {"attribute": "country", "op": "equals", "value": "de"}},
        activate=True,
        now=NOW,
    )
    buyers = make_audience(
        "german_buyers",
        {
            "condition": {
                "and": [
                    {"attribute": "audience:germans", "op": "equals", "value": True},
                    {"event": "Order Completed"},
                ]
            }
        },
        activate=True,
        now=NOW,
    )
    assert names(world, member_ids(de)) == {"Ann", "Dee"}
    assert names(world, member_ids(buyers)) == {"Ann"}
    assert list(buyers.uses.values_list("key", flat=True)) == ["germans"]


def test_dates_use_the_organization_timezone(make_person, known, make_audience, settings):
    ann = known(make_person(first_name="Ann", last_activity_at=datetime(2024, 6, 14, 23, 30, tzinfo=UTC)))
    # 23:30 UTC on the 14th is the 15th in Berlin (the default organization timezone is checked here)
    tz = organization_tz()
    local_day = ann.last_activity_at.astimezone(tz).date().isoformat()
    audience = make_audience(
        "a",
        {"condition": {"attribute": "last_activity_at", "op": "on", "value": local_day}},
        activate=True,
        now=NOW,
    )
    assert member_ids(audience) == {ann.pk}
