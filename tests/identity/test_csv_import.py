"""CSV/XLSX import through identity resolution: identifiers become identities, rows are rejected
alone with their reason, the report counts and the rejects file."""

import csv
import io

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from identity.imports.mapping import Mapping
from identity.imports.services import import_preview, import_start, rejects_path, upload_store
from identity.models import Identity
from identity.services import ingest_batch
from people.models import AttributeDefinition, Job, Person
from tests.identity.csv_fixtures import sdk_identify

pytestmark = pytest.mark.django_db
BASE = "/v1/spaces/main/collections/users/profiles"


@pytest.fixture(autouse=True)
def import_dir(settings, tmp_path, django_capture_on_commit_callbacks):
    settings.ATTUNE_IMPORT_DIR = tmp_path / "imports"
    global _commits
    _commits = django_capture_on_commit_callbacks


def upload(content: bytes | str, name: str = "people.csv"):
    data = content.encode() if isinstance(content, str) else content
    return upload_store(file=SimpleUploadedFile(name, data))


def run(content, columns, *, name="people.csv", **options):
    token, _ = upload(content, name)
    with _commits(execute=True):
        job = import_start(token=token, mapping=Mapping(columns=columns, **options))
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.error
    return job, rejects(token)


def rejects(token):
    with rejects_path(token).open(encoding="utf-8") as handle:
        return {int(r["row"]): r["reason"] for r in csv.DictReader(handle)}


EMAIL_COLUMNS = {"email": "id:email", "first_name": "attr:first_name", "city": "attr:city"}


def test_imported_email_is_an_identity_found_by_the_profile_api(client, auth):
    # given a file with an email and a name
    job, rejected = run("email,first_name,city\nAda@Example.com,Ada,Berlin\n", EMAIL_COLUMNS)
    # when the Profile API is asked by the (normalized) email
    response = client.get(f"{BASE}/email:ada@example.com/traits", **auth)
    # then the imported person is found with their values
    assert response.status_code == 200, response.content
    assert response.json()["traits"]["first_name"] == "Ada"
    assert response.json()["traits"]["city"] == "Berlin"
    assert job.result["created"] == 1 and job.result["rejected"] == 0 and rejected == {}


def test_a_later_identify_with_the_imported_email_finds_the_same_profile():
    # given an imported person
    run("email,first_name,city\nada@example.com,Ada,Berlin\n", EMAIL_COLUMNS)
    (person,) = Person.objects.live()
    # when the website identifies them with a user id and the same email
    from people.services import csv_import_source

    web = csv_import_source()  # any source resolves the same way
    ingest_batch(
        source=web,
        messages=[{"type": "identify", "userId": "u-1", "traits": {"email": "ADA@example.com"}}],
    )
    # then no duplicate: the user id joined the imported profile
    assert Person.objects.live().count() == 1
    assert Identity.objects.get(type__key="user_id", value="u-1").person_id == person.pk


def test_rows_sharing_identifiers_merge_like_tracking():
    # given two people known by email and by user id, then a row naming both
    ingest_batch(
        source=__import__("people.services", fromlist=["x"]).csv_import_source(),
        messages=[
            {"type": "identify", "userId": "u-7", "traits": {"first_name": "Bo"}},
            {"type": "identify", "anonymousId": "a", "traits": {"email": "bo@example.com"}},
        ],
    )
    assert Person.objects.live().count() == 2
    job, _ = run(
        "user id,email\nu-7,bo@example.com\n",
        {"user id": "id:user_id", "email": "id:email"},
        match_key="user_id",
    )
    # then they are one profile, as a tracked identify would have made them
    assert Person.objects.live().count() == 1
    assert job.result["merged"] == 1


BAD_ROWS = [
    ("ragged", "c@example.com,Cy,Rome,extra", "The row has 4 cells; the header has 3."),
    ("nul", "c@example.com,C\x00y,Rome", "NUL character"),
    ("bad email", "not-an-email,Cy,Rome", "Column 'email'"),
    ("invalid email", "null,Cy,Rome", "is not an email address"),
    ("blocked email", "info@example.com,Cy,Rome", "'info@example.com' is a blocked email value"),
    ("no match key", ",Cy,Rome", "The match key column 'email' is empty."),
]


@pytest.mark.parametrize(("label", "line", "reason"), BAD_ROWS, ids=[b[0] for b in BAD_ROWS])
def test_a_bad_row_is_rejected_alone_with_its_reason(label, line, reason):
    from identity.models import IdentifierType
    from identity.services import identifier_type_save

    email = IdentifierType.objects.get(key="email")
    email.blocked_values = ["info@example.com"]
    identifier_type_save(identifier_type=email)
    # given a good row, a bad row and another good row
    content = f"email,first_name,city\na@example.com,Al,Oslo\n{line}\nb@example.com,Bea,Lima\n"
    # when imported
    job, rejected = run(content, EMAIL_COLUMNS)
    # then only the bad row (line 3) is rejected, with its reason; the others are people
    assert list(rejected) == [3] and reason in rejected[3], rejected
    assert set(Identity.objects.filter(type__key="email").values_list("value", flat=True)) == {
        "a@example.com",
        "b@example.com",
    }
    assert job.result["created"] == 2 and job.result["rejected"] == 1


BAD_VALUES = [
    ("huge number", "visits", "integer", "9" * 40),
    ("bad integer", "visits", "integer", "many"),
    ("bad date", "joined", "date", "2024-13-45"),
    ("out of range date", "joined", "date", "99999-01-01"),
]


@pytest.mark.parametrize(("label", "key", "type_", "value"), BAD_VALUES, ids=[b[0] for b in BAD_VALUES])
def test_a_bad_value_rejects_its_row_with_the_column(label, key, type_, value):
    AttributeDefinition.objects.create(key=key, label=key, type=type_)
    content = f"email,{key}\na@example.com,{value}\nb@example.com,\n"
    job, rejected = run(content, {"email": "id:email", key: f"attr:{key}"})
    assert list(rejected) == [2] and f"Column '{key}'" in rejected[2], rejected
    assert job.result["created"] == 1


def test_an_out_of_range_row_time_rejects_the_row():
    content = "email,seen\na@example.com,2024-05-01\nb@example.com,1200-01-01\nc@example.com,soon\n"
    job, rejected = run(
        content, {"email": "id:email", "seen": "ignore"}, time_mode="column", time_column="seen"
    )
    assert sorted(rejected) == [3, 4], rejected
    assert job.result["created"] == 1


BAD_FILES = [
    ("empty", b"", "empty"),
    ("only blanks", b"\n\n", "empty"),
    ("duplicate headers", b"email,Email\na,b\n", "column 2 'Email' repeats column 1"),
    ("empty header", b"email,,city\na,b,c\n", "column 2 has no name"),
    ("not xlsx", b"PK\x03\x04garbage", "cannot be read"),
]


@pytest.mark.parametrize(("label", "content", "message"), BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_a_bad_file_is_refused_whole_with_a_clear_error(label, content, message):
    with pytest.raises(ValidationError) as exc:
        upload(content)
    assert message in " ".join(exc.value.messages)


def test_a_file_over_the_size_limit_is_refused(settings):
    settings.ATTUNE_IMPORT_MAX_BYTES = 1024
    with pytest.raises(ValidationError) as exc:
        upload("email\n" + "a@example.com\n" * 200)
    assert "larger than" in exc.value.messages[0]


BAD_MAPPINGS = [
    ("unknown column left unmapped", {"email": "id:email"}, {}, "Choose what to do with column(s) 'city'"),
    (
        "wrong match key",
        {"email": "id:email", "city": "attr:city"},
        {"match_key": "phone"},
        "match key 'phone'",
    ),
    ("unknown attribute", {"email": "id:email", "city": "attr:nope"}, {}, "there is no attribute 'nope'"),
    ("new without type", {"email": "id:email", "city": "new:"}, {}, "choose the new attribute's type"),
    (
        "time column missing",
        {"email": "id:email", "city": "ignore"},
        {"time_mode": "column"},
        "holds each row",
    ),
]


@pytest.mark.parametrize(
    ("label", "columns", "options", "message"), BAD_MAPPINGS, ids=[b[0] for b in BAD_MAPPINGS]
)
def test_a_bad_mapping_is_refused_before_anything_is_written(label, columns, options, message):
    token, _ = upload("email,city\na@example.com,Rome\n")
    with pytest.raises(ValidationError) as exc:
        import_start(token=token, mapping=Mapping(columns=columns, **options))
    assert message in " ".join(exc.value.messages)
    assert not Job.objects.exists() and not Person.objects.exists()


@pytest.mark.parametrize(
    ("label", "data"),
    [
        ("utf-8 with BOM", "\ufeffemail;first_name;city\nzoe@example.com;Zoë;Köln\n".encode()),
        ("latin-1", "email\tfirst_name\tcity\nzoe@example.com\tZoë\tKöln\n".encode("latin-1")),
        ("quoted", b'"email","first_name","city"\n"zoe@example.com","Zo, e","K\xc3\xb6ln"\n'),
    ],
)
def test_encodings_delimiters_and_quoting_are_detected(label, data):
    job, rejected = run(data, EMAIL_COLUMNS)
    person = Person.objects.live().get()
    assert rejected == {} and person.city == "Köln"
    assert person.first_name in ("Zoë", "Zo, e")


def test_xlsx_upload_imports_its_first_sheet():
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["email", "first_name", "city"])
    sheet.append(["xl@example.com", "Xia", "Porto"])
    buffer = io.BytesIO()
    book.save(buffer)
    job, rejected = run(buffer.getvalue(), EMAIL_COLUMNS, name="people.xlsx")
    assert Identity.objects.get(type__key="email", value="xl@example.com").person.city == "Porto"


def test_update_only_and_create_only_reject_with_the_reason():
    run("email,first_name\nold@example.com,Old\n", {"email": "id:email", "first_name": "attr:first_name"})
    content = "email,first_name\nold@example.com,Olga\nnew@example.com,Nia\n"
    columns = {"email": "id:email", "first_name": "attr:first_name"}
    _, rejected = run(content, columns, write_mode="update_only")
    assert rejected == {3: "No profile has email new@example.com (update only)."}
    _, rejected = run(content, columns, write_mode="create_only")
    assert rejected == {2: "A profile with email old@example.com exists (create only)."}


def test_unknown_column_can_become_a_new_custom_attribute():
    job, _ = run(
        "email,Loyalty tier\nla@example.com,gold\n", {"email": "id:email", "Loyalty tier": "new:text"}
    )
    assert AttributeDefinition.objects.get(key="loyalty_tier").type == "text"
    assert Person.objects.live().get().custom["loyalty_tier"] == "gold"


def test_match_by_unified_id_updates_that_profile():
    run("email,city\nu@example.com,Oslo\n", {"email": "id:email", "city": "attr:city"})
    person = Person.objects.live().get()
    run(f"id,city\n{person.uid},Bergen\n", {"id": "uid", "city": "attr:city"}, match_key="uid")
    person.refresh_from_db()
    assert person.city == "Bergen" and Person.objects.live().count() == 1


def test_preview_shows_old_to_new_and_why_sdk_values_are_kept():
    # given a person whose city an SDK set, and whose name an earlier CSV import set
    from people.services import csv_import_source

    sdk_identify()
    ingest_batch(
        source=csv_import_source(),
        messages=[
            {
                "type": "identify",
                "userId": "p1",
                "timestamp": "2020-01-01T00:00:00Z",
                "traits": {"first_name": "Pat"},
            }
        ],
    )
    token, _ = upload("email,first_name,city\npa@example.com,Patricia,Lyon\nnew@example.com,Nu,Rome\n,x,y\n")
    # when previewed with the rows' time now
    rows = import_preview(token=token, mapping=Mapping(columns=EMAIL_COLUMNS))
    # then the first row updates the name (old → new) and keeps the newer SDK city with the reason
    first, second, third = rows
    assert first.action == "update"
    assert ("first_name", "Pat", "Patricia") in first.changes
    assert first.kept[0][0] == "city" and first.kept[0][1].startswith(
        "kept Paris: set by Website SDK (a higher-priority source) at 2030-01-01 00:00"
    )
    assert second.action == "create" and ("city", "(empty)", "Rome") in second.changes
    assert third.action == "error" and "match key" in third.summary
    assert not Person.objects.filter(city="Lyon").exists()


def test_a_latin1_byte_after_the_sniffed_sample_rejects_only_its_row():
    # given a UTF-8 file whose first 64 KiB are clean and a later row with a Latin-1 byte
    good = "".join(f"p{i}@example.com,Name{i},Oslo\n" for i in range(2500))
    data = (
        "email,first_name,city\n" + good
    ).encode() + b"late@example.com,Ren\xe9,Oslo\nlast@example.com,Li,Rome\n"
    assert len(data) > 64 * 1024
    job, rejected = run(data, EMAIL_COLUMNS)
    assert rejected == {2502: "The row has bytes that are not valid text in the file's encoding."}
    assert job.result["created"] == 2501


def test_a_suppressed_identifier_drops_its_row_with_the_reason():
    from identity.services import identifier_suppress

    identifier_suppress(type_key="email", value="gone@example.com", reason="erased")
    job, rejected = run("email,first_name,city\ngone@example.com,G,X\nok@example.com,O,Y\n", EMAIL_COLUMNS)
    assert rejected[2].startswith("Dropped: an identifier is suppressed")
    assert job.result["dropped"] == 1 and job.result["created"] == 1
    assert not Identity.objects.filter(value="gone@example.com").exists()


def test_a_second_import_of_the_same_upload_applies_again_and_a_retried_job_does_not_duplicate():
    from people.jobrunner import run as run_job

    token, _ = upload("email,city\nre@example.com,Oslo\n")
    columns = {"email": "id:email", "city": "attr:city"}
    with _commits(execute=True):
        first = import_start(
            token=token, mapping=Mapping(columns=columns, time_mode="fixed", fixed_time="2024-01-01")
        )
    # when the same upload is imported again with a later row time and another city column meaning
    with _commits(execute=True):
        second = import_start(
            token=token, mapping=Mapping(columns=columns, time_mode="fixed", fixed_time="2024-02-01")
        )
    second.refresh_from_db()
    assert second.result["updated"] == 1 and second.result["dropped"] == 0
    # and a retried job (claimed again) takes no row twice
    from people.models import Event

    events = Event.objects.count()
    assert events == 2  # one identify event per imported row
    Job.objects.filter(pk=first.pk).update(status=Job.Status.QUEUED)
    run_job(first.pk)
    assert Event.objects.count() == events


EVENT_COLUMNS = {
    "email": "id:email",
    "event": "event",
    "at": "ignore",
    "total": "property",
    "message id": "message_id",
}


def test_historical_events_import_through_the_tracking_pipeline_and_dedupe():
    from people.models import Event

    # given a CSV of events with their time, a property and a message id
    content = (
        "email,event,at,total,message id\n"
        "ev@example.com,Order Completed,2024-03-01T10:00:00Z,42.5,m-1\n"
        "ev@example.com,Order Completed,2024-03-02T10:00:00Z,10,m-2\n"
        "ev@example.com,,2024-03-03,1,m-3\n"
        "ev@example.com,Order Completed,3000-01-01,1,m-4\n"
    )
    options = {"kind": "events", "time_mode": "column", "time_column": "at"}
    # when imported
    job, rejected = run(content, EVENT_COLUMNS, **options)
    # then the events are recorded at their time on the resolved person; bad rows say why
    person = Identity.objects.get(type__key="email", value="ev@example.com").person
    events = list(Event.objects.filter(person=person, name="Order Completed").order_by("timestamp"))
    assert [e.timestamp.isoformat() for e in events] == [
        "2024-03-01T10:00:00+00:00",
        "2024-03-02T10:00:00+00:00",
    ]
    assert events[0].properties["total"] in ("42.5", 42.5)
    assert rejected[4] == "The event name column 'event' is empty." and 5 in rejected
    assert job.result["events"] == 2
    # and the same file again records nothing twice (message ids dedupe)
    job, rejected = run(content, EVENT_COLUMNS, **options)
    assert Event.objects.filter(person=person, name="Order Completed").count() == 2
    assert job.result["duplicates"] == 2 and job.result["events"] == 0


def test_events_mapping_refuses_attributes_and_needs_the_event_column():
    token, _ = upload("email,city\na@example.com,Rome\n")
    with pytest.raises(ValidationError) as exc:
        import_start(
            token=token, mapping=Mapping(columns={"email": "id:email", "city": "attr:city"}, kind="events")
        )
    assert exc.value.messages == [
        "Column 'city': an events import writes event properties, not attributes.",
        "Choose the column that holds the event name.",
    ]


def test_events_preview_shows_the_event_each_row_records():
    token, _ = upload("email,event,at,total,message id\npv@example.com,Signed Up,2024-03-01,7,\n")
    mapping = Mapping(columns=EVENT_COLUMNS, kind="events", time_mode="column", time_column="at")
    (row,) = import_preview(token=token, mapping=mapping)
    assert row.action == "create"
    assert row.changes == [("event", "(new)", "Signed Up at 2024-03-01T00:00:00+00:00 total=7")]
