"""Adaptive allocation: Thompson sampling shifts traffic to the action people accept more."""

import random

import pytest

from actions import allocation, selectors, services
from actions.models import Reaction
from people.selectors import organization_today

pytestmark = pytest.mark.django_db


@pytest.mark.slow
def test_thompson_sampling_on_simulated_users_shifts_traffic_to_the_better_action(
    make_action, known, monkeypatch
):
    # given: two actions in one slot; simulated people accept A 5% and B 20% of the time
    monkeypatch.setattr(allocation, "CACHE_SECONDS", 0)
    person = known("u1")
    a = make_action(name="A", slot="hero", allocation=True)
    b = make_action(name="B", slot="hero", allocation=True)
    rates = {a.pk: 0.05, b.pk: 0.20}
    rng, users = random.Random(7), random.Random(11)
    shown = []
    # when: 600 requests, each answered by a simulated user
    for _ in range(600):
        [served] = services.actions_for(person=person, channel="web", rng=rng)
        shown.append(served["id"])
        if users.random() < rates[served["id"]]:
            Reaction.objects.create(action_id=served["id"], person=person, channel="web", kind="accepted")
    # then: B got most of the later traffic, and analysis reports it
    first, last = shown[:100], shown[-200:]
    assert last.count(b.pk) / len(last) > 0.75
    assert last.count(b.pk) / len(last) > first.count(b.pk) / len(first)
    from datetime import date

    today = organization_today()  # the analysis counts the organization's days
    report = selectors.analysis(action=a, start=date(today.year, 1, 1), end=today)["allocation"]
    by_name = {row["name"]: row for row in report}
    assert by_name["B"]["posterior_mean"] > by_name["A"]["posterior_mean"]
    assert by_name["B"]["traffic_share"] > 0.6
    assert by_name["A"]["traffic_share"] + by_name["B"]["traffic_share"] == pytest.approx(1.0)


def test_without_allocation_every_action_of_the_slot_is_served(make_action, known):
    person = known("u1")
    make_action(name="A", slot="hero")
    make_action(name="B", slot="hero")
    assert len(services.actions_for(person=person, channel="web")) == 2


def test_exploration_floor_keeps_serving_the_loser():
    rng = random.Random(1)
    counts = {1: (10_000, 10), 2: (10_000, 5_000)}
    picks = [allocation.pick([1, 2], counts, rng) for _ in range(4000)]
    share = picks.count(1) / len(picks)
    assert 0.01 < share < 0.05  # about half of the 5% uniform picks


def test_allocation_needs_a_slot(web):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as exc:
        services.action_create(name="x", type="banner", allocation=True)
    assert exc.value.message_dict == {
        "slot": ["Adaptive allocation needs a slot (actions of one slot compete)."]
    }
