"""Workload track (arrives with its app)."""

from __future__ import annotations

from bench.report import Row, not_available

MUTATES = False


def unavailable(ctx) -> str | None:
    return "not implemented yet"


def placeholder(reason: str) -> list[Row]:
    return [not_available("track", "all", "", "", reason)]


def run(ctx) -> list[Row]:
    return []
