"""Raw reads: a prepared statement answers as the plain one does, and a text the server will not
prepare still answers, without spoiling the caller's transaction."""

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from django.db import connection, transaction

from people import rawsql
from people.models import Person

pytestmark = pytest.mark.django_db


def test_prepared_rows_match_plain_rows_with_literal_percent():
    Person.objects.create(first_name="Ann", city="100% Town")
    Person.objects.create(first_name="Bob", city="Elsewhere")
    statement = (
        f"SELECT first_name, city FROM {Person._meta.db_table} "
        "WHERE city LIKE '%%' || %s || '%%' AND first_name <> %s ORDER BY first_name"
    )
    params = ["Town", "Zed"]
    assert rawsql.select_prepared(statement, params) == [("Ann", "100% Town")]
    assert rawsql.select_prepared(statement, ["where", "Zed"]) == [("Bob", "Elsewhere")]
    assert rawsql.select_prepared(statement, params) == rawsql.select_rows(statement, params)


@pytest.mark.parametrize(
    "statement,params,expected",
    [
        ("UPDATE {table} SET city = %s WHERE first_name = %s", ["Rome", "Ann"], []),
        ("UPDATE {table} SET city = %s WHERE first_name = %s RETURNING city", ["Oslo", "Ann"], [("Oslo",)]),
        pytest.param(
            "SELECT FROM {table} WHERE first_name = %s",
            ["Ann"],
            [],
            marks=pytest.mark.skipif(
                connection.vendor != "postgresql", reason="SQLite has no SELECT of no columns"
            ),
        ),
        ("SELECT first_name FROM {table} WHERE first_name = %s", ["Nobody"], []),
    ],
)
def test_prepared_writes_and_empty_results_answer_as_plain_ones(statement, params, expected):
    # an UPDATE returns no rows, RETURNING its rows, a SELECT of no columns none (not one empty row
    # per match), prepared or not
    Person.objects.create(first_name="Ann")
    statement = statement.format(table=Person._meta.db_table)
    assert rawsql.select_prepared(statement, params) == expected
    assert rawsql.select_rows(statement, params) == expected


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite has no prepared statements here")
def test_prepared_statement_is_planned_once_per_connection():
    statement = "SELECT %s::int + 1"
    for k in range(3):
        assert rawsql.select_prepared(statement, [k]) == [(k + 1,)]
    prepared = rawsql.select_rows(
        "SELECT count(*) FROM pg_prepared_statements WHERE statement = %s", ["SELECT $1::int + 1"]
    )
    assert prepared == [(1,)]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="only the server can refuse a text")
def test_refused_text_falls_back_and_leaves_the_transaction_usable():
    statement = "SELECT %s IS NULL"  # the server cannot type $1; bound on the client it is NULL IS NULL
    with transaction.atomic():
        assert rawsql.select_prepared(statement, [None]) == [(True,)]
        assert rawsql._prepared[statement] is False  # refused once, then run plainly
        assert rawsql.select_prepared(statement, [None]) == [(True,)]
        Person.objects.create(first_name="After")
    assert Person.objects.filter(first_name="After").count() == 1


TEXTS = [
    "a",
    "",
    "NULL",
    'with "quote"',
    "back\\slash",
    "{brace},comma",
    " spaced ",
    "üñí",
    None,
    '\\"',
    "x\ny",
]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="array parameters are PostgreSQL's")
@pytest.mark.parametrize(
    ("values", "cast"),
    [
        (TEXTS, "text[]"),
        ([1, -5, 2**62, None], "bigint[]"),
        (
            [
                datetime(2026, 1, 1, tzinfo=UTC),
                datetime(2026, 1, 1, 5, tzinfo=timezone(timedelta(hours=5))),
                None,
            ],
            "timestamptz[]",
        ),
        ([date(2020, 2, 29), None], "date[]"),
        ([True, False, None], "boolean[]"),
        ([1.5, -0.25, None], "double precision[]"),
        ([], "bigint[]"),
    ],
)
def test_array_literal_reads_back_as_the_values(values, cast):
    """The text array literal a hot path sends instead of psycopg's list dumper reads back, cast to
    the column type, as exactly the values (quotes, backslashes, braces, commas, NULL as text)."""
    literal = rawsql.array_literal(values)
    assert isinstance(literal, str)
    assert rawsql.select_prepared(f"SELECT %s::{cast}", [literal]) == [(values,)]


def test_array_literal_leaves_other_values_to_psycopg():
    values = [{"a": 1}, None]
    assert rawsql.array_literal(values) is values
