"""Export of people: chosen columns (standard, custom, computed, identifiers), the person list's
filters, CSV and XLSX, formulas neutralised, bad choices answered on the page."""

import csv
import io

import pytest

from people.models import AttributeDefinition
from tests.identity import csv_fixtures

pytestmark = pytest.mark.django_db
staff = csv_fixtures.staff
URL = "/admin/people/import/export/"


@pytest.fixture
def people(db):
    csv_fixtures.tiered_people(
        {
            "type": "identify",
            "userId": "u1",
            "traits": {"email": "a@example.com", "first_name": "=HYPERLINK(1)", "tier": "gold"},
        },
        {"type": "track", "userId": "u1", "event": "E1"},
        {"type": "track", "userId": "u1", "event": "E1"},
        {
            "type": "identify",
            "userId": "u2",
            "traits": {"email": "b@example.com", "first_name": "Bo", "tier": "-5"},
        },
    )


def download(response) -> str:
    return b"".join(response.streaming_content).decode("utf-8-sig")


def test_csv_export_with_standard_custom_computed_and_identifier_columns(staff, people):
    # given an active computed attribute counting E1 events
    from computed import services as computed_services

    count = {"function": "count", "event": "E1", "period": {"type": "lifetime"}}
    computed_services.activate(
        computed_services.computed_attribute_create(
            key="e1_count", name="E1 count", kind="aggregate", definition=count
        )
    )
    # when exported with chosen columns
    response = staff.post(
        URL, {"columns": ["identifier:user_id", "email", "first_name", "tier", "e1_count"], "format": "csv"}
    )
    # then one row per person, values as stored, formulas neutralised
    assert response["Content-Disposition"].startswith('attachment; filename="people-')
    rows = list(csv.reader(io.StringIO(download(response))))
    assert rows[0] == ["identifier:user_id", "email", "first_name", "tier", "e1_count"]
    assert rows[1] == ["u1", "a@example.com", "'=HYPERLINK(1)", "gold", "2.0"]
    assert rows[2] == ["u2", "b@example.com", "Bo", "'-5", "0.0"] or rows[2][:4] == [
        "u2",
        "b@example.com",
        "Bo",
        "'-5",
    ]


def test_export_follows_the_person_list_search(staff, people):
    response = staff.post(URL, {"columns": ["email"], "format": "csv", "filters": "q=b%40example.com"})
    assert download(response).splitlines() == ["email", "b@example.com"]


def test_xlsx_export_is_a_workbook_with_the_rows(staff, people):
    import openpyxl

    response = staff.post(URL, {"columns": ["email", "tier"], "format": "xlsx"})
    book = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    values = [list(r) for r in book.active.iter_rows(values_only=True)]
    assert values == [["email", "tier"], ["a@example.com", "gold"], ["b@example.com", "'-5"]]


@pytest.mark.parametrize(
    ("label", "data", "message"),
    [
        ("no columns", {"format": "csv"}, "Choose at least one column."),
        ("unknown column", {"columns": ["nope"], "format": "csv"}, "Unknown export column &#x27;nope&#x27;."),
        ("unknown format", {"columns": ["email"], "format": "pdf"}, "Unknown format &#x27;pdf&#x27;."),
        (
            "broken filters",
            {"columns": ["email"], "format": "csv", "filters": "kind__nope=1"},
            "cannot be applied",
        ),
    ],
)
def test_bad_export_choices_are_answered_on_the_page(staff, people, label, data, message):
    response = staff.post(URL, data)
    assert response.status_code == 200 and message in response.content.decode()


def test_export_page_lists_columns_by_group(staff, people):
    page = staff.get(URL).content.decode()
    assert 'value="tier"' in page and 'value="identifier:email"' in page and ">Custom</legend>" in page
    assert 'value="email" checked' in page


def test_csv_from_postgresql_copy_has_the_cells_of_the_python_path(people):
    from datetime import UTC, datetime

    from django.db import connection

    from identity.imports import export
    from people.models import Person

    if connection.vendor != "postgresql":
        pytest.skip("COPY is PostgreSQL's")
    AttributeDefinition.objects.create(key="vip", label="VIP", type="boolean")
    AttributeDefinition.objects.create(key="visits", label="Visits", type="integer")
    AttributeDefinition.objects.create(key="ratio", label="Ratio", type="decimal")
    Person.objects.filter(email="b@example.com").update(
        birth_date="1990-02-03",
        created_at=datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
        custom={"tier": "-5", "vip": True, "visits": 12, "ratio": 0.1},
    )
    keys = ["uid", "email", "first_name", "tier", "vip", "visits", "birth_date", "created_at"]
    keys += ["last_activity_at", "event_count", "identifier:user_id", "gender", "ratio"]
    # when exported through COPY and through the Python rows
    copied = export.csv_copy(Person.objects.live(), keys)
    assert copied is not None
    fast = list(csv.reader(io.StringIO(b"".join(copied).decode("utf-8-sig"))))
    python = "".join(export.csv_stream(export.export_rows(Person.objects.live(), keys)))
    slow = list(csv.reader(io.StringIO(python.lstrip("\ufeff"))))
    # then the cells are the same: formulas neutralised, ISO times, true/false, empty cells
    assert fast == slow
    assert fast[1][2] == "'=HYPERLINK(1)" and fast[2][3] == "'-5"
    assert fast[2][4:8] == ["true", "12.0", "1990-02-03", "2024-01-02T03:04:05+00:00"]
    assert fast[2][-1] == "0.1" and fast[1][-1] == ""


def test_csv_from_postgresql_copy_works_with_the_debug_cursor(people):
    # Django's debug cursor (DEBUG=True, or a test capturing queries) has a copy() without
    # parameters; the export with filters passes some, and must not fail there.
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from identity.imports import export
    from people.models import Person

    if connection.vendor != "postgresql":
        pytest.skip("COPY is PostgreSQL's")
    with CaptureQueriesContext(connection) as queries:
        copied = export.csv_copy(Person.objects.live().filter(email="b@example.com"), ["email", "first_name"])
        rows = list(csv.reader(io.StringIO(b"".join(copied).decode("utf-8-sig"))))
    assert rows == [["email", "first_name"], ["b@example.com", "Bo"]]
    assert any(q["sql"].startswith("COPY (SELECT") for q in queries.captured_queries)
