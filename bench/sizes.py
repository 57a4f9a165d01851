"""Benchmark sizes: how many profiles and events, and how long each workload runs."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Size:
    name: str
    profiles: int
    events: int
    whales: int  # profiles with ``whale_events`` events each (hot profiles)
    whale_events: int
    chunk: int  # profiles per generator chunk (the unit of determinism and parallelism)
    # Workload scale.
    ingest_messages: int
    track_seconds: float
    merge_messages: int
    profile_seconds: float
    probe_events: int  # rows in the raw COPY probe


SIZES: dict[str, Size] = {
    "S": Size("S", 10_000, 100_000, 1, 2_000, 10_000, 10_000, 8, 500, 8, 20_000),
    "M": Size("M", 1_000_000, 10_000_000, 5, 10_000, 25_000, 60_000, 20, 1_500, 20, 200_000),
    "L": Size("L", 5_000_000, 50_000_000, 20, 10_000, 25_000, 500_000, 60, 10_000, 60, 1_000_000),
}


def smoke(size: Size) -> Size:
    """The CI variant: same data, every workload briefly."""
    return Size(
        size.name,
        size.profiles,
        size.events,
        size.whales,
        size.whale_events,
        size.chunk,
        ingest_messages=min(size.ingest_messages, 5_000),
        track_seconds=3,
        merge_messages=min(size.merge_messages, 200),
        profile_seconds=3,
        probe_events=min(size.probe_events, 10_000),
    )
