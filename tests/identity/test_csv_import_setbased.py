"""The set-based import path (PostgreSQL) writes what the pipeline path writes: the same values,
attribute times and sources, audit rows, events and counters, rejects and report, for a file that
exercises source priority, row times out of order, repeated keys, every attribute type, suppressed
and bad rows, and a row with a second identifier that merges two profiles (the pipeline remainder)."""

import csv
import json
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from identity.imports import setbased
from identity.imports.mapping import Mapping
from identity.imports.services import import_start, rejects_path, upload_store
from identity.models import Identity
from identity.services import identifier_suppress, ingest_batch
from people.models import AttributeChange, AttributeDefinition, Event, Job, Person
from tests.identity.csv_fixtures import sdk_identify

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif("connection.vendor != 'postgresql'", reason="the set-based path is PostgreSQL's"),
]

FILE = """email,user id,first_name,city,score,ratio,vip,since,at
pa@example.com,,Pat,Lyon,1,0.5,yes,2020-01-02,2024-01-01
old@example.com,,Oleg,,4,,,,2024-01-01
old@example.com,,Olya,Oslo,5,1.25,no,,2026-01-01
old@example.com,,Olga,,6,,,,2025-12-01
new@example.com,,Nia,Rome,7,2,true,2021-05-05,2024-03-01
new@example.com,,Nia,Rome,7,2,true,,2024-03-01T10:00:00Z
NEW@example.com,,Nina,,8,,,,2024-03-01
gone@example.com,,G,,,,,,2024-01-01
bad@example.com,,B,,many,,,,2024-01-01
,,x,,,,,,2024-01-01
bo@example.com,u-7,Bo,Bergen,9,,,,2024-02-01
kim@example.com,,Kimberly,Kharkiv,,,,,2024-01-01
lee@example.com,,Lee,Lima,,,,,2026-02-01
"""
COLUMNS = {
    "email": "id:email",
    "user id": "id:user_id",
    "first_name": "attr:first_name",
    "city": "attr:city",
    "score": "attr:score",
    "ratio": "attr:ratio",
    "vip": "attr:vip",
    "since": "attr:since",
    "at": "ignore",
}


@pytest.fixture
def people(settings, tmp_path):
    from people.services import csv_import_source

    settings.ATTUNE_IMPORT_DIR = tmp_path / "imports"
    for key, type_ in [("score", "integer"), ("ratio", "decimal"), ("vip", "boolean"), ("since", "date")]:
        AttributeDefinition.objects.create(key=key, label=key, type=type_)
    sdk_identify({"type": "identify", "userId": "u-7", "traits": {"first_name": "Bob"}})
    ingest_batch(
        source=csv_import_source(),
        messages=[
            {
                "type": "identify",
                "anonymousId": "a-1",
                "timestamp": "2025-06-01T00:00:00Z",
                "traits": {"email": "old@example.com", "first_name": "Olga", "score": 3},
            },
            {"type": "identify", "anonymousId": "a-2", "traits": {"email": "bo@example.com"}},
            *(
                {
                    "type": "identify",
                    "anonymousId": f"a-{name}",
                    "timestamp": "2025-06-01T00:00:00Z",
                    "traits": {"email": f"{name.lower()}@example.com", "first_name": name, "city": city},
                }
                for name, city in (("Kim", "Kyiv"), ("Lee", "Lima"))
            ),
        ],
    )
    identifier_suppress(type_key="email", value="gone@example.com", reason="erased")


def _snapshot(job: Job) -> dict:
    email_of = dict(Identity.objects.filter(type__key="email").values_list("person_id", "value"))
    people = {}
    for person in Person.objects.filter(pk__in=email_of):
        people[email_of[person.pk]] = {
            "values": [person.first_name, person.city, person.email, person.custom],
            "meta": person.attribute_meta,
            "counters": [
                person.first_seen_at,
                person.last_activity_at,
                person.event_count,
                person.session_count,
            ],
            "merged": person.merged_into_id is not None,
        }
    # Audit rows at the file's times (merges and messages without a time write wall-clock ones).
    file_times = AttributeChange.objects.filter(effective_at__lt=timezone.now() - timedelta(hours=1))
    audit = sorted(
        (
            email_of.get(c.person_id, "?"),
            c.key,
            json.dumps(c.old_value),
            json.dumps(c.new_value),
            c.effective_at,
        )
        for c in file_times
    )
    with rejects_path(job.params["token"]).open(encoding="utf-8") as handle:
        rejected = {int(r["row"]): r["reason"] for r in csv.DictReader(handle)}
    return {
        "people": people,
        "audit": audit,
        "events": Event.objects.filter(type="identify").count(),
        "live": Person.objects.live().count(),
        "result": job.result,
        "rejected": rejected,
    }


def _import(capture) -> dict:
    token, _ = upload_store(
        file=__import__("django.core.files.uploadedfile", fromlist=["x"]).SimpleUploadedFile(
            "people.csv", FILE.encode()
        )
    )
    with capture(execute=True):
        job = import_start(
            token=token, mapping=Mapping(columns=COLUMNS, time_mode="column", time_column="at")
        )
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.error
    return _snapshot(job)


class _Undo(Exception):
    pass


def _import_and_undo(capture) -> dict:
    try:
        with transaction.atomic():
            snapshot = _import(capture)
            raise _Undo
    except _Undo:
        return snapshot


def test_the_set_based_path_writes_what_the_pipeline_writes(
    people, monkeypatch, django_capture_on_commit_callbacks
):
    assert connection.vendor == "postgresql"
    # when the file is imported on the set-based path (people of one row decided per row), again with
    # every person through its windowed path, and again (from the same state) on the pipeline's
    fast = _import_and_undo(django_capture_on_commit_callbacks)
    monkeypatch.setattr(setbased, "WIDE_MAX_COLUMNS", 0)
    windowed = _import_and_undo(django_capture_on_commit_callbacks)
    monkeypatch.setattr(setbased, "eligible", lambda *args: False)
    slow = _import_and_undo(django_capture_on_commit_callbacks)
    # then all wrote the same values, times, sources, audit rows, counters, rejects and report
    for key in ("people", "audit", "events", "live", "rejected", "result"):
        assert fast[key] == slow[key], key
        assert windowed[key] == slow[key], key
    # and a known person's older row is kept, a newer row with the same values only moves their time
    kim, lee = fast["people"]["kim@example.com"], fast["people"]["lee@example.com"]
    assert kim["values"][:2] == ["Kim", "Kyiv"] and kim["meta"]["city"]["at"] == "2025-06-01T00:00:00+00:00"
    assert lee["values"][:2] == ["Lee", "Lima"] and lee["meta"]["city"]["at"] == "2026-02-01T00:00:00+00:00"
    rows = [row for row in fast["audit"] if row[0] in ("kim@example.com", "lee@example.com")]
    assert rows and all(row[4].year == 2025 for row in rows)  # only the set-up's audit rows
    # and what a person sees is right: newer and higher-priority values kept, in-file order by time
    old = fast["people"]["old@example.com"]
    assert old["values"][:2] == ["Olya", "Oslo"] and old["values"][3]["score"] == 5
    assert old["meta"]["first_name"]["at"] == "2026-01-01T00:00:00+00:00"
    pa = fast["people"]["pa@example.com"]
    assert pa["values"][1] == "Paris" and pa["values"][0] == "Pat"
    assert pa["values"][3] == {"score": 1, "ratio": 0.5, "vip": True, "since": "2020-01-02"}
    new = fast["people"]["new@example.com"]
    assert new["values"][0] == "Nia" and new["values"][3]["score"] == 7
    assert new["meta"]["first_name"]["at"] == "2024-03-01T10:00:00+00:00"
    assert new["counters"][2:] == [3, 2]  # three identify events in two sessions
    assert fast["people"]["bo@example.com"]["values"][0] == "Bob" and fast["live"] == 6
    assert fast["result"]["merged"] == 1 and fast["result"]["created"] == 1
    assert fast["rejected"][9].startswith("Dropped: an identifier is suppressed")
    assert fast["rejected"][10].startswith("Column 'score': Attribute 'score' expects a whole number")
    assert fast["rejected"][11] == "The match key column 'email' is empty."


def test_a_retried_set_based_chunk_takes_no_row_twice(people, django_capture_on_commit_callbacks):
    from people.jobrunner import run as run_job

    first = _import(django_capture_on_commit_callbacks)
    job = Job.objects.filter(kind="identity.csv_import").latest("created_at")
    Job.objects.filter(pk=job.pk).update(status=Job.Status.QUEUED)
    run_job(job.pk)
    job.refresh_from_db()
    assert Event.objects.filter(type="identify").count() == first["events"]
    assert job.result["duplicates"] == 10 and job.result["created"] == 0


@pytest.mark.slow
def test_a_100k_row_file_counts_identities_and_merges(
    settings, tmp_path, client, django_capture_on_commit_callbacks
):
    import base64

    from identity.services import access_token_create
    from people.services import csv_import_source

    settings.ATTUNE_IMPORT_DIR = tmp_path / "imports"
    # given 100 profiles known by user id and 100 others known by email (the pairs a row will join)
    ingest_batch(
        source=csv_import_source(),
        messages=[{"type": "identify", "userId": f"u-{i}"} for i in range(100)]
        + [
            {"type": "identify", "anonymousId": f"a-{i}", "traits": {"email": f"m-{i}@example.com"}}
            for i in range(100)
        ],
    )
    # and a file of 100,000 rows: 100 rows naming both profiles of a pair, 50 bad emails, and
    # 99,850 rows of 80,000 new emails (the others repeat an earlier row)
    lines = ["email,user id,city"]
    lines += [f"m-{i}@example.com,u-{i},Oslo" for i in range(100)]
    lines += ["not-an-email,,Rome"] * 50
    lines += [f"p-{n % 80_000}@example.com,,City{n % 7}" for n in range(99_850)]
    token, _ = upload_store(
        file=__import__("django.core.files.uploadedfile", fromlist=["x"]).SimpleUploadedFile(
            "big.csv", ("\n".join(lines) + "\n").encode()
        )
    )
    columns = {"email": "id:email", "user id": "id:user_id", "city": "attr:city"}
    # when it is imported
    with django_capture_on_commit_callbacks(execute=True):
        job = import_start(token=token, mapping=Mapping(columns=columns))
    job.refresh_from_db()
    # then the report counts every row, the merges and the rejects
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert job.result["rows"] == 100_000
    assert job.result["created"] == 80_000 and job.result["merged"] == 100
    assert job.result["rejected"] == 50 and job.result["updated"] == 100_000 - 80_000 - 50
    assert Person.objects.live().count() == 100 + 80_000
    assert Identity.objects.filter(type__key="email").count() == 100 + 80_000
    # and the Profile API finds an imported person by the imported email, and a merged one by either
    raw = access_token_create(name="t").raw
    auth = {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"{raw}:".encode()).decode()}
    base = "/v1/spaces/main/collections/users/profiles"
    response = client.get(f"{base}/email:p-79999@example.com/traits", **auth)
    assert response.status_code == 200 and response.json()["traits"]["city"] == f"City{79_999 % 7}"
    by_email = client.get(f"{base}/email:m-7@example.com/traits", **auth).json()
    by_user = client.get(f"{base}/user_id:u-7/traits", **auth).json()
    assert by_email["traits"] == by_user["traits"] and by_email["traits"]["city"] == "Oslo"


def test_housekeeping_removes_import_folders_older_than_the_kept_days(settings, tmp_path):
    import os
    import time

    from identity.imports.services import import_dir
    from privacy.tasks import housekeeping

    settings.ATTUNE_IMPORT_DIR = tmp_path / "imports"
    settings.ATTUNE_IMPORT_KEEP_DAYS = 7
    # given an upload of 8 days ago, one of yesterday, and an old one whose import is still running
    old, recent, running = (upload_store(file=_file(f"{n}.csv"))[0] for n in ("old", "recent", "running"))
    for token, days in ((old, 8), (recent, 1), (running, 30)):
        for path in (import_dir() / token).iterdir():
            stamp = time.time() - days * 86400
            os.utime(path, (stamp, stamp))
    Job.objects.create(kind="identity.csv_import", params={"token": running}, status=Job.Status.RUNNING)
    # when the daily housekeeping runs
    housekeeping()
    # then only the old, idle folder is gone
    assert not (import_dir() / old).exists()
    assert (import_dir() / recent / "upload").exists() and (import_dir() / running / "upload").exists()


def _file(name: str):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, b"email,city\na@example.com,Oslo\n")


def _run_file(text: str, capture) -> tuple[dict, dict[int, str], dict[str, str]]:
    from django.core.files.uploadedfile import SimpleUploadedFile

    token, _ = upload_store(file=SimpleUploadedFile("people.csv", text.encode()))
    with capture(execute=True):
        job = import_start(token=token, mapping=Mapping(columns={"email": "id:email", "city": "attr:city"}))
    job.refresh_from_db()
    with rejects_path(token).open(encoding="utf-8") as handle:
        rejected = {int(r["row"]): r["reason"] for r in csv.DictReader(handle)}
    cities = {
        i.value: i.person.city for i in Identity.objects.filter(type__key="email").select_related("person")
    }
    return job.result, rejected, cities


def _known_by_email(*names: str) -> None:
    from people.services import csv_import_source

    ingest_batch(
        source=csv_import_source(),
        messages=[
            {"type": "identify", "anonymousId": f"a-{n}", "traits": {"email": f"{n}@example.com"}}
            for n in names
        ],
    )


def test_a_key_naming_a_company_profile_takes_the_pipeline_path(
    settings, tmp_path, monkeypatch, django_capture_on_commit_callbacks
):
    settings.ATTUNE_IMPORT_DIR = tmp_path / "imports"
    # given a company profile known by an email, and a person known by another
    _known_by_email("acme", "pat")
    Person.objects.filter(identities__value="acme@example.com").update(kind="company")
    text = "email,city\nacme@example.com,Oslo\npat@example.com,Rome\nnew@example.com,Lima\n"
    from identity.imports import services

    piped: list[int] = []
    run_batch = services._run_batch

    def spy(batch, *args):
        piped.extend(number for number, _ in batch)
        return run_batch(batch, *args)

    monkeypatch.setattr(services, "_run_batch", spy)
    # when a file names both (and a new person), on the set-based path and on the pipeline's
    outcomes = []
    for eligible in (setbased.eligible, lambda *args: False):
        piped.clear()
        monkeypatch.setattr(setbased, "eligible", eligible)
        try:
            with transaction.atomic():
                outcomes.append((*_run_file(text, django_capture_on_commit_callbacks), list(piped)))
                raise _Undo
        except _Undo:
            pass
    # then both paths report, reject and write the same: the company's row is the pipeline's
    fast, slow = outcomes
    assert fast[:3] == slow[:3]
    assert fast[3] == [2] and slow[3] == [2, 3, 4]  # the set-based path sent only the company's row
    assert fast[2]["pat@example.com"] == "Rome" and fast[2]["new@example.com"] == "Lima"
    assert fast[0]["rows"] == 3 and fast[0]["created"] == 1


def test_a_key_moved_to_another_profile_meanwhile_is_written_to_its_profile_now(
    settings, tmp_path, monkeypatch, django_capture_on_commit_callbacks
):
    settings.ATTUNE_IMPORT_DIR = tmp_path / "imports"
    _known_by_email("kim", "lee")
    kim = Identity.objects.get(value="kim@example.com")
    lee = Identity.objects.get(value="lee@example.com")
    # given kim's email moves to lee's profile after the chunk found it (as a merge's undo would)
    lock = setbased.Statements.lock_and_find

    def move_then_lock(self, cursor):
        Identity.objects.filter(pk=kim.pk).update(person_id=lee.person_id)
        return lock(self, cursor)

    monkeypatch.setattr(setbased.Statements, "lock_and_find", move_then_lock)
    # when a file names kim and lee
    result, rejected, cities = _run_file(
        "email,city\nkim@example.com,Oslo\nlee@example.com,Rome\n", django_capture_on_commit_callbacks
    )
    # then kim's row is written to the profile the email names now, never to the one it named before
    assert rejected == {} and result["rows"] == 2
    assert cities["kim@example.com"] == cities["lee@example.com"] in ("Oslo", "Rome")
    assert Person.objects.get(pk=kim.person_id).city == ""
