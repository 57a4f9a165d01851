"""Workloads. Each module has ``MUTATES``, ``unavailable(ctx) -> str | None``, ``placeholder(reason)`` and
``run(ctx) -> list[Row]``."""

from __future__ import annotations

import importlib


def get(name: str):
    return importlib.import_module(f"bench.workloads.{name}")
