"""Capping under real concurrency on PostgreSQL: threads, each with its own connection."""

import threading

import pytest
from django.db import connection

from actions import services
from actions.models import Reaction
from identity.models import Identity
from identity.services import ingest_batch

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def people(source, n):
    ingest_batch(
        source=source,
        messages=[{"type": "identify", "userId": f"p{i}", "messageId": f"m{i}"} for i in range(n)],
    )
    return {i.value: i.person for i in Identity.objects.filter(type__key="user_id").select_related("person")}


def race(n, work):
    """Start ``n`` threads at once; each runs ``work(i)``; returns their results."""
    barrier = threading.Barrier(n)
    results = [None] * n

    def run(i):
        try:
            barrier.wait()
            results[i] = work(i)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def accept_status(web, action, person, *, user_id: str) -> int:
    """The status of ``person`` accepting ``action`` on the web channel: 200, or 403 when capped."""
    try:
        return services.act(
            source=web.source,
            person=person,
            action_id=action.pk,
            event="accept",
            identifiers={"user_id": user_id},
        ).status
    except services.ActionError as exc:
        return exc.status


def test_fifty_clients_racing_for_the_last_ten_coupons_accept_exactly_ten(make_action, web):
    # given: 500 coupons, 490 already accepted by earlier people
    everyone = people(web.source, 50)
    action = make_action(
        name="Coupon", capping_rules=[{"reaction": "accepted", "group": "all", "count": 500}]
    )
    earlier = list(everyone.values())[0]
    Reaction.objects.bulk_create(
        [Reaction(action=action, person=earlier, channel="web", kind="accepted")] * 490
    )

    # when: fifty people accept at the same moment
    results = race(50, lambda i: accept_status(web, action, everyone[f"p{i}"], user_id=f"p{i}"))
    # then
    assert sorted(results) == [200] * 10 + [403] * 40
    assert Reaction.objects.filter(action=action, kind="accepted").count() == 500


def test_one_person_accepting_from_twenty_tabs_gets_the_per_person_limit(make_action, web):
    person = people(web.source, 1)["p0"]
    action = make_action(name="Once", capping_rules=[{"reaction": "accepted", "group": "user", "count": 3}])

    results = race(20, lambda i: accept_status(web, action, person, user_id="p0"))
    assert sorted(results) == [200] * 3 + [403] * 17
    assert Reaction.objects.filter(action=action, kind="accepted").count() == 3


def test_global_delivery_cap_is_exact_under_concurrency(make_action, web):
    everyone = people(web.source, 30)
    action = make_action(name="Few", capping_rules=[{"reaction": "delivered", "group": "all", "count": 5}])

    def ask(i):
        return len(services.actions_for(person=everyone[f"p{i}"], channel="web"))

    results = race(30, ask)
    assert sum(results) == 5
    assert Reaction.objects.filter(action=action, kind="delivered").count() == 5
