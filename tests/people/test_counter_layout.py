"""people_person's layout keeps ingestion's counters update cheap (docs/performance.md §6): no index
covers a counter column (an indexed column that changes rules out a HOT update, so every batch would
add an entry to all of the table's indexes for every touched profile) and pages keep 20% free."""

import pytest
from django.db import connection

from people.models import Person

COUNTERS = {"first_seen_at", "last_activity_at", "event_count", "session_count"}

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL storage parameters"),
]


def test_no_index_covers_a_counter_column():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.relname, pg_get_indexdef(x.indexrelid) FROM pg_index x "
            "JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = %s::regclass",
            [Person._meta.db_table],
        )
        indexes = cursor.fetchall()
    assert indexes, "people_person has no index at all: the query is wrong"
    covering = [(name, ddl) for name, ddl in indexes if any(column in ddl for column in COUNTERS)]
    assert covering == []


def test_pages_keep_room_for_in_page_updates():
    with connection.cursor() as cursor:
        cursor.execute("SELECT reloptions FROM pg_class WHERE oid = %s::regclass", [Person._meta.db_table])
        (options,) = cursor.fetchone()
    assert "fillfactor=80" in (options or [])
