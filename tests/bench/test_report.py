"""The results file has the shape the issue asks for; unavailable workloads say so."""

import json

from bench.report import Row, markdown, not_available, write_json


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
