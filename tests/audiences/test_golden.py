"""Golden member sets on a tiny data set: every operator family, every window, funnels (SQL refresh
and the Python explain agree on each)."""

from datetime import UTC, date, datetime, timedelta

import pytest

from audiences import definition as definitions
from audiences import membership
from audiences.models import Audience
from people.models import AttributeDefinition, Channel, PersonChannelContact
from people.selectors import organization_tz
from tests.audiences.conftest import assert_members, member_ids, member_names

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
    assert_members(audience, world, expected, now=NOW)


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
    assert_members(audience, world, expected, now=NOW)


# "Did not" in the middle of a funnel: Product Viewed (V), then did not Product Added (C), then Email
# Received (M). The step after a "did not … within" counts from the moment the limit ran out.
VIEWED, CART, MAIL = "Product Viewed", "Product Added", "Email Received"
MINUTE = timedelta(minutes=1)


@pytest.fixture
def browsers(db, make_person, make_event, known):
    timelines = {
        "Ann": [(VIEWED, 10 * H), (MAIL, 5 * H, {"product_id": "p1"})],
        "Bob": [(VIEWED, 10 * H), (MAIL, 9 * H + 30 * MINUTE)],  # mailed during the hour
        "Cid": [(VIEWED, 10 * H), (CART, 9 * H + 30 * MINUTE), (MAIL, 5 * H)],  # added within the hour
        "Dee": [(VIEWED, 10 * H), (CART, 8 * H), (MAIL, 5 * H)],  # added, but after the hour
        "Eve": [(VIEWED, 30 * MINUTE), (MAIL, 10 * MINUTE)],  # the hour has not passed yet
        # the first view was followed by a cart, the second was not (all instances count)
        "Fay": [(VIEWED, 10 * H), (CART, 9 * H + 50 * MINUTE), (VIEWED, 6 * H), (MAIL, 4 * H)],
        "Gus": [(VIEWED, 10 * H), (MAIL, 9 * H)],  # mailed the very instant the hour ran out
        "Hal": [(VIEWED, 10 * H)],
        "Ivy": [(VIEWED, 10 * H), (MAIL, 8 * H, {"product_id": "p2"})],
        "Jon": [(VIEWED, 10 * H), (MAIL, 7 * H), (CART, 6 * H)],  # mailed two hours after the hour
    }
    people = {}
    for name, events in timelines.items():
        people[name] = known(make_person(first_name=name))
        for event, ago, *props in events:
            default = {"product_id": "p1"} if event == VIEWED else {}
            make_event(people[name], event, at=NOW - ago, properties=props[0] if props else default)
    return people


NOT_CART_1H = {"event": CART, "did_not": True, "within": {"value": 1, "unit": "hours"}}
MIDDLE_DID_NOT = [
    (
        "viewed, not carted within 1 h, then mailed",
        [NOT_CART_1H, {"event": MAIL}],
        {"Ann", "Dee", "Fay", "Ivy", "Jon"},
    ),
    (
        "viewed, never carted after, then mailed",
        [{"event": CART, "did_not": True}, {"event": MAIL}],
        {"Ann", "Bob", "Eve", "Fay", "Gus", "Ivy"},
    ),
    (
        "mailed within 2 h of the hour running out (the end of the limit is included)",
        [NOT_CART_1H, {"event": MAIL, "within": {"value": 2, "unit": "hours"}}],
        {"Fay", "Ivy", "Jon"},
    ),
    (
        "same_as after a did not compares with the viewed event",
        [NOT_CART_1H, {"event": MAIL, "filters": [{"property": "product_id", "same_as": "product_id"}]}],
        {"Ann"},
    ),
    (
        "two did not steps: no cart in the first hour, no mail in the next two",
        [NOT_CART_1H, {"event": MAIL, "did_not": True, "within": {"value": 2, "unit": "hours"}}],
        {"Ann", "Bob", "Dee", "Gus", "Hal"},
    ),
    (
        "did not within, then did not ever after the hour",
        [NOT_CART_1H, {"event": MAIL, "did_not": True}],
        {"Bob", "Gus", "Hal"},
    ),
    ("four steps: then mailed, then carted", [NOT_CART_1H, {"event": MAIL}, {"event": CART}], {"Jon"}),
]


@pytest.mark.parametrize("label,rest,expected", MIDDLE_DID_NOT, ids=[f[0] for f in MIDDLE_DID_NOT])
def test_funnel_did_not_in_the_middle(browsers, make_audience, label, rest, expected):
    steps = [{"event": VIEWED}, *rest]
    audience = make_audience("f", {"steps": steps}, audience_type="funnel", activate=True, now=NOW)
    assert_members(audience, browsers, expected, now=NOW)


def test_explain_of_a_middle_did_not_names_the_instance_and_when_it_was_met(browsers, make_audience):
    # given: Fay viewed twice; only the second view went an hour without a cart
    audience = make_audience(
        "f", {"steps": [{"event": VIEWED}, NOT_CART_1H, {"event": MAIL}]}, audience_type="funnel"
    )
    fay = browsers["Fay"]
    second_view = fay.events.filter(name=VIEWED).order_by("-timestamp").first()
    mail = fay.events.get(name=MAIL)
    # when
    explained = definitions.evaluate(
        definitions.compile_audience(audience), fay, now=NOW, tz=organization_tz()
    )
    # then
    viewed, not_carted, mailed = explained["steps"]
    assert (viewed["count"], viewed["matched"]) == (2, True)
    assert not_carted["did_not"] is True
    assert not_carted["matched_event_ids"] == [second_view.pk]
    assert not_carted["met_at"] == [(NOW - 5 * H).isoformat()]
    assert mailed["matched_event_ids"] == [mail.pk]
    assert explained["matched"] is True


def test_a_middle_did_not_step_is_left_by_a_late_event_in_real_time(browsers, make_event, make_audience):
    # given: Hal viewed 10 hours ago, never carted, never mailed: in "not carted, then not mailed"
    steps = [{"event": VIEWED}, NOT_CART_1H, {"event": MAIL, "did_not": True}]
    audience = make_audience("f", {"steps": steps}, audience_type="funnel", activate=True, now=NOW)
    hal = browsers["Hal"]
    assert hal.pk in member_ids(audience)
    # when: a mail arrives now
    make_event(hal, MAIL, at=NOW - MINUTE)
    membership.refresh_people([hal.pk], now=NOW)
    # then
    assert hal.pk not in member_ids(audience)
    assert audience.history.filter(person=hal, kind="exited").count() == 1


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
    assert member_names(world, de) == {"Ann", "Dee"}
    assert member_names(world, buyers) == {"Ann"}
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
