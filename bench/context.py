"""What a benchmark run hands to its probes and workloads (and to ``bench.profiling``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import psycopg

from bench import generate
from bench.sizes import Size


@dataclass
class Context:
    url: str
    spec: generate.Spec
    scale: Size
    repeat: int
    smoke: bool
    conn: psycopg.Connection
    state: dict
    references: dict = field(default_factory=dict)
    notes: dict = field(default_factory=dict)
    objects: dict = field(default_factory=dict)

    def log(self, msg: str) -> None:
        print(f"[{datetime.now().strftime('%H:%M:%S')}] {msg}", flush=True)  # noqa: DTZ005
