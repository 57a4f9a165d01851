"""The results file has the shape the issue asks for; unavailable workloads say so; rows without a target
never meet one; a file holds runs of one commit only."""

import json

import pytest

from bench.report import (
    Row,
    StitchRefused,
    document,
    header,
    markdown,
    not_available,
    rows_of,
    stitch,
    write_json,
)

ORDER = ["probes", "ingest", "profile_api"]


def test_results_json_shape(tmp_path):
    # given
    rows = [
        Row(
            "ingest /v1/batch",
            "events/s accepted",
            1234.5,
            "events/s",
            100_000.0,
            "R1",
            target="≥ 10,000",
            meets=False,
        ).finish(),
        not_available(
            "computed activation", "10 aggregates", "s", "≤ 1.5× raw SQL", "computed not merged"
        ).finish(),
    ]

    # when
    path = write_json(rows, "S", {"cores": 2}, {"seed": 1}, tmp_path / "latest.json")
    doc = json.loads(path.read_text())

    # then
    assert doc["size"] == "S" and doc["machine"] == {"cores": 2} and doc["date"]
    first, second = doc["results"]
    assert {"workload", "metric", "value", "unit", "reference", "ratio", "target", "meets"} <= set(first)
    assert first["ratio"] == round(1234.5 / 100_000, 3) and first["meets"] is False
    assert second["value"] is None and second["available"] is False and second["meets"] is False
    assert "not available" in markdown(rows)


@pytest.mark.parametrize(
    ("target", "meets", "value", "expected", "column"),
    [
        ("", None, 5.0, None, "| — |"),  # no target: not "meets"
        ("", True, 5.0, None, "| — |"),  # a workload saying True without a target is ignored
        ("≤ 10 ms", True, 5.0, True, "| ≤ 10 ms | yes |"),
        ("≤ 10 ms", False, 50.0, False, "| ≤ 10 ms | **no** |"),
        ("≤ 10 ms", None, 5.0, False, "| ≤ 10 ms | **no** |"),  # a target nobody checked is not met
        ("≤ 10 ms", True, None, False, "| ≤ 10 ms | **no** |"),  # no value meets nothing
    ],
)
def test_meets_only_where_there_is_a_target(target, meets, value, expected, column):
    # given
    row = Row("Profile API traits", "p99", value, "ms", target=target, meets=meets).finish()

    # when
    doc = document([row], "S", {}, {})

    # then
    assert row.meets is expected and doc["results"][0]["meets"] is expected
    assert markdown([row]).splitlines()[-1].endswith(column)


def _run(commit, groups, *, dirty=False, value=1.0, settings=None, date="2026-11-30T10:00:00+00:00"):
    rows = [Row(f"{g} row", "figure", value, "ms", group=g).finish() for g in groups]
    doc = document(
        rows,
        "M",
        {"cores": 2, "memory_gb": 23.5, "postgresql": "15.20"},
        {
            "commit": commit,
            "dirty": dirty,
            "seed": 1,
            "anchor": "2026-11-30",
            "smoke": False,
            "only": groups[1:] if groups[0] == "probes" and len(groups) < len(ORDER) else None,
            "postgresql": {
                "cluster": "own",
                "where": "the bench's own cluster 15/bench",
                "settings": settings or {"shared_buffers": "6GB"},
                "differ": [],
            },
        },
    )
    doc["date"] = date
    doc["runs"] = [{"date": date, "commit": commit, "workloads": doc["only"]}]
    return doc


def test_a_partial_run_at_the_same_commit_replaces_its_workloads_rows():
    # given a full run and a later run of the Profile API only, at the same clean commit
    full = _run("a" * 40, ORDER)
    again = _run("a" * 40, ["probes", "profile_api"], value=2.0, date="2026-11-30T11:00:00+00:00")

    # when
    doc = stitch(full, again, ORDER)

    # then the Profile API's row is the new run's, the others (and the first run's probes) stay
    assert [(r["group"], r["value"], r["run"]) for r in doc["results"]] == [
        ("probes", 1.0, 0),
        ("ingest", 1.0, 0),
        ("profile_api", 2.0, 1),
    ]
    assert [r["date"] for r in doc["runs"]] == ["2026-11-30T10:00:00+00:00", "2026-11-30T11:00:00+00:00"]
    text = header(doc) + "\n" + markdown(rows_of(doc))
    assert "run 1: 2026-11-30T11:00:00+00:00, profile_api" in text
    assert "| profile_api row | figure | 2.00 ms |" in text


@pytest.mark.parametrize(
    ("later", "reason"),
    [
        (_run("b" * 40, ["probes", "profile_api"]), "commit differs"),
        (_run("a" * 40, ["probes", "profile_api"], dirty=True), "uncommitted changes"),
        (
            _run("a" * 40, ["probes", "profile_api"], settings={"shared_buffers": "128MB"}),
            "PostgreSQL settings differ",
        ),
    ],
)
def test_runs_that_differ_are_not_stitched(later, reason):
    # given
    full = _run("a" * 40, ORDER)

    # when / then
    with pytest.raises(StitchRefused, match=reason):
        stitch(full, later, ORDER)


def test_a_file_without_a_commit_is_not_stitched():
    # given the results of a run before commits were recorded
    old = _run(None, ORDER)

    # when / then
    with pytest.raises(StitchRefused, match="commit differs"):
        stitch(old, _run("a" * 40, ["probes", "ingest"]), ORDER)


def test_header_names_the_commit_and_the_settings_that_differ():
    # given
    doc = _run("c0ffee" + "0" * 34, ORDER, dirty=True)
    doc["postgresql"] |= {"cluster": "foreign", "differ": ["shared_buffers 128MB (bench: 6016MB)"]}

    # when
    text = header(doc)

    # then
    assert "commit c0ffee000000 with uncommitted changes" in text
    assert "**server settings differ: shared_buffers 128MB (bench: 6016MB)**" in text
    assert "`shared_buffers` 6GB" in text
