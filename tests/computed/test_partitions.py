"""PostgreSQL: first activation loads a new partition per attribute (index-free, indexed after)."""

from datetime import timedelta

import pytest
from django.db import connection

from computed import services, sql
from computed.models import ComputedValue
from computed.selectors import person_values

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.slow,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL partitions"),
]

ORDERS = {"function": "count", "event": "Order Completed"}
REVENUE = {"function": "sum", "event": "Order Completed", "property": "amount"}


def test_first_activation_loads_attached_partitions(monkeypatch, make_person, make_event, make_computed, now):
    # given people with orders, and partitions worth it whatever the size
    monkeypatch.setattr(sql, "PARTITION_FROM_PEOPLE", 0)
    ann, bob = make_person(), make_person()
    make_event(ann, "Order Completed", at=now - timedelta(days=1), properties={"amount": 5})
    make_event(ann, "Order Completed", at=now - timedelta(days=2), properties={"amount": 7.5})
    make_event(bob, "Order Completed", at=now - timedelta(days=3), properties={"amount": "n/a"})
    orders = make_computed("orders", "aggregate", ORDERS)
    revenue = make_computed("revenue", "aggregate", REVENUE)
    # when both are activated (one FILTERed pass, rows routed to two new partitions)
    services.activate_many([orders, revenue])
    # then each has its own attached partition, indexed, with the values
    assert sql.partitions_of([orders.pk, revenue.pk]) == {orders.pk, revenue.pk}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_inherits WHERE inhrelid IN (to_regclass(%s), to_regclass(%s))",
            [sql.partition_name(orders.pk), sql.partition_name(revenue.pk)],
        )
        assert cursor.fetchone()[0] == 2
        cursor.execute(
            "SELECT count(*) FROM pg_indexes WHERE tablename = %s", [sql.partition_name(orders.pk)]
        )
        assert cursor.fetchone()[0] == 2
    assert person_values(person_id=ann.pk)["orders"]["value"] == 2
    assert person_values(person_id=ann.pk)["revenue"]["value"] == 12.5
    assert person_values(person_id=bob.pk)["orders"]["value"] == 1
    assert person_values(person_id=bob.pk)["revenue"]["value"] == 0
    # when a new order arrives and the person is refreshed (upsert into the partition)
    make_event(bob, "Order Completed", at=now - timedelta(hours=1), properties={"amount": 3})
    services.refresh_person(bob.pk)
    assert person_values(person_id=bob.pk)["revenue"]["value"] == 3
    # when disabled and activated again (recomputed in place, not loaded again)
    services.computed_attribute_disable(attribute=orders)
    services.activate(orders)
    assert person_values(person_id=bob.pk)["orders"]["value"] == 2
    # when deleted, the partition goes with the values
    services.computed_attribute_delete(attribute=revenue)
    assert sql.partitions_of([revenue.pk]) == set()
    assert not ComputedValue.objects.filter(attribute_id=revenue.pk).exists()
