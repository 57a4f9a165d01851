"""Results: rows of (workload, metric, value, unit, reference, ratio, target, meets), the markdown table,
``bench/results/latest.json`` and the machine description.

A results file holds one run at one commit. A run of some workloads only (``--only``) may replace
those workloads' rows in an existing file, and only when both runs are at the same commit with a clean
tree, on the same data set and PostgreSQL settings (``stitch``); anything else is refused."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
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
    group: str = ""  # the workload module (or "probes") that produced the row

    def finish(self) -> Row:
        if self.value is not None and self.reference:
            self.ratio = round(self.value / self.reference, 3)
        if not self.target:
            self.meets = None  # no target: nothing to meet
        elif self.value is None or not self.available:
            self.meets = False
        else:
            self.meets = bool(self.meets)
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


def rows_of(doc: dict) -> list[Row]:
    """A results file's rows, back as ``Row`` objects (for its table)."""
    names = {f for f in Row.__dataclass_fields__ if f != "samples"}
    return [Row(**{k: v for k, v in r.items() if k in names}) for r in doc["results"]]


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


def git_state(repo: Path = RESULTS.parent.parent) -> dict:
    """The commit the code runs at and whether the tree differs from it (bench/results aside)."""

    def git(*args: str) -> str:
        proc = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True)
        return proc.stdout.strip() if proc.returncode == 0 else ""

    commit = git("rev-parse", "HEAD") or None
    changed = git("status", "--porcelain", "--", ".", ":(exclude)bench/results").splitlines()
    return {"commit": commit, "dirty": bool(changed) or commit is None, "dirty_paths": changed[:20]}


def document(rows: list[Row], size: str, mach: dict, extra: dict) -> dict:
    """The results file's content for one run (``extra``: commit, dirty, settings, notes…)."""
    return {
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
                "meets": r.meets if r.target else None,
                "available": r.available,
                "note": r.note,
                "group": r.group,
                "run": 0,
            }
            for r in rows
        ],
    }


class StitchRefused(Exception):
    """Two runs that may not share one results file."""


# What must be equal for two runs to share a results file.
SAME = ("commit", "size", "seed", "anchor", "smoke")


def stitch(old: dict, new: dict, order: list[str]) -> dict:
    """``new`` (a run of the workloads ``new["only"]``) over ``old``: their rows replaced, the others
    kept, each row's ``run`` the index into ``runs``. Raises ``StitchRefused`` unless both runs are at
    the same commit with clean trees, on the same data set and PostgreSQL settings."""
    for key in SAME:
        if old.get(key) != new.get(key):
            raise StitchRefused(f"{key} differs: {old.get(key)!r} in the file, {new.get(key)!r} in this run")
    if old.get("dirty") or new.get("dirty"):
        raise StitchRefused("a run from a tree with uncommitted changes is not stitched to another run")
    old_pg, new_pg = old.get("postgresql", {}), new.get("postgresql", {})
    if old_pg.get("settings") != new_pg.get("settings") or old_pg.get("cluster") != new_pg.get("cluster"):
        raise StitchRefused("PostgreSQL settings differ between the runs")
    redone = set(new.get("only") or [])
    runs = list(old.get("runs") or [])
    offset = len(runs)
    kept = [r for r in old["results"] if r.get("group") not in redone]
    added = [dict(r, run=r.get("run", 0) + offset) for r in new["results"] if r.get("group") in redone]
    rank = {name: k for k, name in enumerate(order)}
    results = sorted(kept + added, key=lambda r: rank.get(r.get("group"), len(rank)))
    notes = dict(old.get("notes") or {}) | dict(new.get("notes") or {})
    return old | {"results": results, "runs": runs + list(new.get("runs") or []), "notes": notes}


def save(doc: dict, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n")
    tmp.replace(path)
    return path


def write_json(rows: list[Row], size: str, mach: dict, extra: dict, path: Path | None = None) -> Path:
    return save(document(rows, size, mach, extra), path or RESULTS / "latest.json")


def header(doc: dict) -> str:
    """The lines above the table: what ran, at which commit, on which PostgreSQL with which settings."""
    mach, pg = doc.get("machine", {}), doc.get("postgresql", {})
    commit = (doc.get("commit") or "unknown commit")[:12]
    lines = [
        f"Attune bench, size {doc.get('size')}{' (smoke)' if doc.get('smoke') else ''}, "
        f"commit {commit}{' with uncommitted changes' if doc.get('dirty') else ''}, "
        f"{mach.get('cores')} cores, {mach.get('memory_gb')} GB, PostgreSQL {mach.get('postgresql')}",
        "",
        f"PostgreSQL: {pg.get('where', 'unknown server')}. Settings: "
        + ", ".join(f"`{k}` {v}" for k, v in (pg.get("settings") or {}).items())
        + ".",
    ]
    if doc.get("server"):
        lines += ["", f"App server: {doc['server']}."]
    if pg.get("differ"):
        lines += ["", f"**server settings differ: {'; '.join(pg['differ'])}**"]
    runs = doc.get("runs") or []
    if len(runs) > 1:
        lines += ["", "Rows from runs at the same commit (a row's `run` in latest.json):"]
        lines += [
            f"- run {k}: {r.get('date')}, {', '.join(r.get('workloads') or ['all'])}"
            for k, r in enumerate(runs)
        ]
    return "\n".join(lines)


__all__ = [
    "Row",
    "StitchRefused",
    "asdict",
    "document",
    "git_state",
    "header",
    "markdown",
    "machine",
    "median",
    "not_available",
    "percentile",
    "save",
    "stitch",
    "write_json",
]
