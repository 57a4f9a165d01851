"""Workload: people import from a CSV file (identity/imports), end to end, beside a raw COPY of the same
file into an unlogged staging table in the same run; then the CSV export of every profile.

The file has ``ROWS`` rows × 10 columns (email as the match key, eight standard attributes, one custom
integer); 20% of the rows repeat an email of an earlier row (updates). "End to end" is the job's run: the
file read and checked, every row resolved and written (on PostgreSQL the set-based path of
``identity.imports.setbased``: COPY into a staging table, resolution and writes in SQL per chunk). The
same file is then imported a second time (every row names a known profile: the update case).

Standalone (against ``DATABASE_URL``, Django settings from the environment)::

    DATABASE_URL=postgres://... python -m bench.workloads.csv_import --rows 20000
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import tempfile
import time
from pathlib import Path

from bench.report import Row, not_available

MUTATES = True
T_RATE = "≥ 20,000 rows/s at size M (issue 12)"
HEADERS = [
    "email",
    "first_name",
    "last_name",
    "city",
    "country",
    "region",
    "language",
    "membership_level",
    "gender",
    "bench_score",
]


def rows_for(size_name: str) -> int:
    return {"S": 10_000, "M": 1_000_000, "L": 1_000_000}.get(size_name, 10_000)


def unavailable(ctx) -> str | None:
    try:
        import identity.imports.services  # noqa: F401
    except ImportError:
        return "identity.imports (issue 12) not merged"
    return None


def placeholder(reason: str) -> list[Row]:
    return [not_available("csv import", "rows/s end to end", "rows/s", T_RATE, reason)]


def write_file(path: Path, rows: int, seed: int = 12) -> None:
    rng = random.Random(seed)
    cities = ["Berlin", "Oslo", "Lima", "Porto", "Köln", "Zürich", "Rome", "Austin"]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADERS)
        for i in range(rows):
            n = rng.randrange(i) if i and rng.random() < 0.2 else i
            writer.writerow(
                [
                    f"csv-bench-{n}@example.com",
                    f"First{i % 997}",
                    f"Last{i % 991}",
                    rng.choice(cities),
                    rng.choice(["DE", "NO", "PE", "PT", "CH", "IT", "US"]),
                    "Region",
                    "en",
                    rng.choice(["gold", "silver", ""]),
                    rng.choice(["female", "male", ""]),
                    str(rng.randrange(1000)),
                ]
            )


def copy_reference(path: Path) -> float:
    """Seconds for a raw COPY of the file into an unlogged table (the floor of any import)."""
    from django.db import connection

    with connection.cursor() as cursor:
        columns = ", ".join(f"{h} text" for h in HEADERS)
        cursor.execute(f"CREATE UNLOGGED TABLE IF NOT EXISTS bench_csv_staging ({columns})")
        cursor.execute("TRUNCATE bench_csv_staging")
        started = time.perf_counter()
        copy_sql = "COPY bench_csv_staging FROM STDIN WITH (FORMAT csv, HEADER true)"
        with cursor.copy(copy_sql) as copy, path.open("rb") as handle:
            while block := handle.read(1 << 20):
                copy.write(block)
        seconds = time.perf_counter() - started
        cursor.execute("DROP TABLE bench_csv_staging")
    return seconds


def import_file(path: Path) -> tuple[float, dict]:
    """Seconds for the import job's run (inline), and its result."""
    from django.core.files import File

    from identity.imports.mapping import Mapping
    from identity.imports.services import import_start, upload_store
    from people.jobrunner import run
    from people.models import AttributeDefinition, Job

    AttributeDefinition.objects.get_or_create(
        key="bench_score", defaults={"label": "Bench score", "type": "integer"}
    )
    with path.open("rb") as handle:
        token, _ = upload_store(file=File(handle, name=path.name))
    columns = {h: ("id:email" if h == "email" else f"attr:{h}") for h in HEADERS}
    job = import_start(token=token, mapping=Mapping(columns=columns))
    started = time.perf_counter()
    run(job.pk)  # inline: the queued task finds the job claimed and does nothing
    seconds = time.perf_counter() - started
    job = Job.objects.get(pk=job.pk)
    if job.status != Job.Status.SUCCEEDED:
        raise RuntimeError(job.error[:500])
    return seconds, job.result


def export_all() -> tuple[float, int]:
    """Seconds to export every live profile to CSV with 11 columns (uid, 9 standard, email identifier),
    as the admin's export sends it: PostgreSQL's COPY when the columns allow, else the Python rows."""
    from identity.imports.export import csv_copy, csv_stream, export_rows
    from people.models import Person

    keys = ["uid", *HEADERS[:9], "identifier:email"]
    people = Person.objects.live()
    started = time.perf_counter()
    lines = 0
    for block in csv_copy(people, keys) or csv_stream(export_rows(people, keys)):
        lines += block.count(b"\n" if isinstance(block, bytes) else "\n")
    return time.perf_counter() - started, lines - 1  # the header


def measure(rows: int, log=print) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "people.csv"
        write_file(path, rows)
        copy_s = copy_reference(path)
        log(f"  raw COPY of {rows:,} rows: {copy_s:.2f} s ({rows / copy_s:,.0f} rows/s)")
        import_s, result = import_file(path)
        log(f"  import of {rows:,} rows: {import_s:.2f} s ({rows / import_s:,.0f} rows/s); {result}")
        again_s, again = import_file(path)
        log(f"  same file again (updates): {again_s:.2f} s ({rows / again_s:,.0f} rows/s); {again}")
    export_s, exported = export_all()
    log(f"  export of {exported:,} profiles to CSV: {export_s:.2f} s ({exported / export_s:,.0f} profiles/s)")
    return {
        "rows": rows,
        "copy_s": copy_s,
        "import_s": import_s,
        "result": result,
        "again_s": again_s,
        "export_s": export_s,
        "exported": exported,
    }


def run(ctx) -> list[Row]:
    figures = measure(rows_for(ctx.scale.name), ctx.log)
    rate = figures["rows"] / figures["import_s"]
    copy_rate = figures["rows"] / figures["copy_s"]
    return [
        Row(
            "csv import",
            f"rows/s end to end, {figures['rows']:,} rows × 10 columns",
            rate,
            "rows/s",
            reference=copy_rate,
            reference_label="raw COPY rows/s",
            ratio=rate / copy_rate,
            target=T_RATE,
            meets=rate >= 20_000,
        ),
        Row(
            "csv import again",
            f"rows/s, the same {figures['rows']:,} rows naming known profiles",
            figures["rows"] / figures["again_s"],
            "rows/s",
            reference=copy_rate,
            reference_label="raw COPY rows/s",
            ratio=figures["rows"] / figures["again_s"] / copy_rate,
            target=T_RATE,
            meets=figures["rows"] / figures["again_s"] >= 20_000,
        ),
        Row(
            "csv export",
            f"seconds for {figures['exported']:,} profiles × 11 columns",
            figures["export_s"],
            "s",
            target="1M profiles ≤ 10 s at size M (issue 12)",
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("SECRET_KEY", "attune-bench-not-secret")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    measure(args.rows)


if __name__ == "__main__":
    main()
