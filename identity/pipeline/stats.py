"""The stats step, after the commit: per-source daily counters and the seen-but-undefined list.

Short statements of their own (one autocommit upsert on PostgreSQL), so a batch's transaction never
waits on the shared counter rows.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F

from identity.models import SeenUndefined, SourceDailyStat
from identity.pipeline import sql
from identity.schemas import Undefined
from people.models import Source


def record_stats(
    *, source: Source, counts: dict[str, int], received_at: datetime, undefined: list[Undefined] = ()
) -> None:
    """Add ``counts`` (keys of ``sql.STAT_COLUMNS``) to the source's counters for the day of
    ``received_at`` (organization timezone) and note what was seen without a definition."""
    from people.selectors import organization_today

    day = organization_today(received_at)
    counts = {key: counts.get(key, 0) for key in sql.STAT_COLUMNS}
    if sql.postgres():
        stat = [source.pk, day, *counts.values()] if any(counts.values()) else None
        sql.bookkeeping_upsert(stat, _undefined_arrays(source, undefined, received_at) if undefined else None)
        return
    if any(counts.values()):
        updates = {key: F(key) + value for key, value in counts.items() if value}
        if not SourceDailyStat.objects.filter(source=source, day=day).update(**updates):
            try:
                with transaction.atomic():
                    SourceDailyStat.objects.create(source=source, day=day, **counts)
            except IntegrityError:
                SourceDailyStat.objects.filter(source=source, day=day).update(**updates)
    if undefined:
        _note_undefined(source, undefined, received_at)


def _grouped(undefined: list[Undefined]) -> dict[tuple[str, str, str], list[Undefined]]:
    grouped: dict[tuple[str, str, str], list[Undefined]] = defaultdict(list)
    for item in undefined:
        grouped[(item.kind, item.event_name[:200], item.key[:200])].append(item)
    return grouped


def _undefined_arrays(source: Source, undefined: list[Undefined], at: datetime) -> list:
    grouped = _grouped(undefined)
    keys = sorted(grouped)
    return [
        source.channel_id,
        at,
        at,
        [k for k, _, _ in keys],
        [n for _, n, _ in keys],
        [key for _, _, key in keys],
        [_json_or_none(grouped[k][0].example) for k in keys],
        [len(grouped[k]) for k in keys],
    ]


def _json_or_none(value: Any) -> str | None:
    return None if value is None else json.dumps(value, cls=SeenUndefined._meta.get_field("example").encoder)


def _note_undefined(source: Source, undefined: list[Undefined], at: datetime) -> None:
    grouped = _grouped(undefined)
    channel = source.channel
    SeenUndefined.objects.bulk_create(
        [
            SeenUndefined(
                kind=kind,
                channel=channel,
                event_name=name,
                key=key,
                example=items[0].example,
                first_seen_at=at,
            )
            for (kind, name, key), items in grouped.items()
        ],
        ignore_conflicts=True,
    )
    rows = SeenUndefined.objects.filter(channel=channel, kind__in={k for k, _, _ in grouped}).filter(
        event_name__in={n for _, n, _ in grouped}, key__in={k for _, _, k in grouped}
    )
    changed = []
    for row in rows:
        items = grouped.get((row.kind, row.event_name, row.key))
        if items:
            row.count += len(items)
            row.last_seen_at = at
            changed.append(row)
    SeenUndefined.objects.bulk_update(changed, ["count", "last_seen_at"])
