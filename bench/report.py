"""Results: rows of (workload, metric, value, unit, reference, ratio, target, meets), the markdown table,
``bench/results/latest.json`` and the machine description."""

from __future__ import annotations

import json
import os
import platform
import statistics
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass
class Row:
    workload: str
    metric: str
    value: float | None
    unit: str
    reference: float | None = None
    reference_label: str = ""
    ratio: float | None = None
    target: str = ""
    meets: bool | None = None
    note: str = ""
    available: bool = True
    samples: list[float] = field(default_factory=list)

    def finish(self) -> Row:
        if self.value is not None and self.reference:
            self.ratio = round(self.value / self.reference, 3)
        if self.meets is None:
            self.meets = not self.target
        if self.value is not None:
            self.value = _round(self.value)
        if self.reference is not None:
            self.reference = _round(self.reference)
        return self


def _round(x: float) -> float:
    if abs(x) >= 100:
        return round(x, 1)
    if abs(x) >= 1:
        return round(x, 3)
    return round(x, 5)


def not_available(workload: str, metric: str, unit: str, target: str, why: str) -> Row:
    return Row(
        workload,
        metric,
        None,
        unit,
        target=target,
        meets=False,
        note=f"not available: {why}",
        available=False,
    )


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def percentile(xs: list[float], p: float) -> float:
    if not xs:
        return float("nan")
    s = sorted(xs)
    k = min(len(s) - 1, max(0, round(p / 100 * (len(s) - 1))))
    return s[k]


def machine(server: dict) -> dict:
    mem_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "postgresql": server.get("version"),
        "postgresql_settings": server.get("settings", {}),
        "load_average_at_start": [round(x, 2) for x in load] if load else None,
    }


def fmt(x: float | None) -> str:
    if x is None:
        return "n/a"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    if abs(x) >= 1:
        return f"{x:.2f}"
    return f"{x:.3g}"


def markdown(rows: list[Row]) -> str:
    out = [
        "| workload | figure | value | reference | ratio | target | meets |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        value = f"{fmt(r.value)} {r.unit}" if r.available else "**not available**"
        ref = f"{fmt(r.reference)} ({r.reference_label})" if r.reference is not None else "—"
        ratio = f"{r.ratio:.2f}×" if r.ratio is not None else "—"
        meets = "—" if not r.target else ("yes" if r.meets else "**no**")
        out.append(f"| {r.workload} | {r.metric} | {value} | {ref} | {ratio} | {r.target or '—'} | {meets} |")
    return "\n".join(out)


def write_json(rows: list[Row], size: str, mach: dict, extra: dict, path: Path | None = None) -> Path:
    path = path or RESULTS / "latest.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "size": size,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": mach,
        **extra,
        "results": [
            {
                "workload": r.workload,
                "metric": r.metric,
                "value": r.value,
                "unit": r.unit,
                "reference": r.reference,
                "reference_label": r.reference_label,
                "ratio": r.ratio,
                "target": r.target,
                "meets": bool(r.meets),
                "available": r.available,
                "note": r.note,
            }
            for r in rows
        ],
    }
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n")
    tmp.replace(path)
    return path


__all__ = ["Row", "asdict", "markdown", "machine", "median", "not_available", "percentile", "write_json"]
