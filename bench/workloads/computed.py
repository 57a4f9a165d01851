"""Workload 5: computed attributes. Full activation of ten event aggregates (one Python call,
``computed.services.activate_many``) against the hand-written SQL of the same ten values written to a
table of the same shape (R4), in the same run; then single-profile refresh (``refresh_person``)
against the same hand-written SQL restricted to one profile."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta

from bench import db
from bench.report import Row, median, not_available, percentile

MUTATES = False
PREFIX = "bench_"
T_ACTIVATION = "≤ 1.5× raw SQL"
OC, PV, EO = "Order Completed", "Page Viewed", "Email Opened"

# (key, definition, raw SQL aggregate over the event's rows, value column, empty value or None)
D90 = {"type": "full_days", "value": 90}
LIFE = {"type": "lifetime"}
AMOUNT = "(properties->>'amount')::float8"
IN90 = "timestamp >= %(d90)s AND timestamp < %(today)s"
DEFINITIONS = [
    (
        "orders_90d",
        {"function": "count", "event": OC, "period": D90},
        f"count(*) FILTER (WHERE {IN90})::float8",
        "number",
        0,
    ),
    (
        "revenue_90d",
        {"function": "sum", "event": OC, "property": "amount", "period": D90},
        f"sum({AMOUNT}) FILTER (WHERE {IN90})",
        "number",
        None,
    ),
    (
        "revenue_lifetime",
        {"function": "sum", "event": OC, "property": "amount", "period": LIFE},
        f"sum({AMOUNT})",
        "number",
        None,
    ),
    (
        "average_order",
        {"function": "average", "event": OC, "property": "amount", "period": LIFE},
        f"avg({AMOUNT})",
        "number",
        None,
    ),
    (
        "largest_order",
        {"function": "max", "event": OC, "property": "amount", "period": LIFE},
        f"max({AMOUNT})",
        "number",
        None,
    ),
    (
        "first_order_at",
        {"function": "min", "event": OC, "property": "$timestamp", "period": LIFE},
        "min(timestamp)",
        "moment",
        None,
    ),
    (
        "last_order_at",
        {"function": "max", "event": OC, "property": "$timestamp", "period": LIFE},
        "max(timestamp)",
        "moment",
        None,
    ),
    (
        "distinct_products",
        {"function": "count_distinct", "event": OC, "property": "product_id", "period": LIFE},
        "count(DISTINCT properties->>'product_id')::float8",
        "number",
        0,
    ),
    (
        "page_views_30d",
        {"function": "count", "event": PV, "period": {"type": "full_days", "value": 30}},
        "count(*) FILTER (WHERE timestamp >= %(d30)s AND timestamp < %(today)s)::float8",
        "number",
        0,
    ),
    (
        "email_opens_90d",
        {"function": "count", "event": EO, "period": D90},
        f"count(*) FILTER (WHERE {IN90})::float8",
        "number",
        0,
    ),
]


def unavailable(ctx) -> str | None:
    try:
        from computed.services import activate_many, refresh_person  # noqa: F401
    except ImportError as exc:
        return f"computed app (issue 4) not merged ({exc})"
    return None


def placeholder(reason: str) -> list[Row]:
    return [
        not_available("computed activation", "10 aggregates, all profiles", "s", T_ACTIVATION, reason),
        not_available("computed refresh_person", "p50", "ms", "", reason),
    ]


def _reset(ctx) -> None:
    from computed.models import ComputedAttribute

    ctx.conn.execute("TRUNCATE computed_computedvalue")
    ComputedAttribute.objects.filter(key__startswith=PREFIX).delete()


def _create(ctx) -> list:
    from computed.services import computed_attribute_create

    return [
        computed_attribute_create(
            key=PREFIX + key, name=key.replace("_", " "), kind="aggregate", definition=d
        )
        for key, d, *_ in DEFINITIONS
    ]


def _raw_sql(ids: dict[str, int], person: bool) -> str:
    """R4: one FILTERed pass per event source, written in long format like computed values."""
    parts = []
    for event in (OC, PV, EO):
        items = [d for d in DEFINITIONS if d[1]["event"] == event]
        aggs = ", ".join(f"{sql} AS {key}" for key, _, sql, _, _ in items)
        scope = "AND person_id = %(person)s" if person else ""
        values = ", ".join(
            f"({ids[key]}, "
            + (f"{key}, NULL::timestamptz" if col == "number" else f"NULL::float8, {key}")
            + (", true)" if empty is None else f", {key} <> {empty})")
            for key, _, _, col, empty in items
        )
        parts.append(
            f"SELECT v.a, g.person_id, v.num, v.mom FROM (SELECT person_id, {aggs} FROM people_event "
            f"WHERE name = '{event}' {scope} GROUP BY person_id) g "
            f"CROSS JOIN LATERAL (VALUES {values}) v(a, num, mom, keep) "
            "WHERE v.keep AND coalesce(v.num::text, v.mom::text) IS NOT NULL"
        )
    return (
        "INSERT INTO bench_ref_value (attribute_id, person_id, number, moment, computed_at) "
        f"SELECT a, person_id, num, mom, now() FROM ({' UNION ALL '.join(parts)}) r"
    )


def _params(now: datetime, person: int | None = None) -> dict:
    today = datetime(now.year, now.month, now.day, tzinfo=UTC)
    return {
        "today": today,
        "d90": today - timedelta(days=90),
        "d30": today - timedelta(days=30),
        "person": person,
    }


def run(ctx) -> list[Row]:
    from computed.models import ComputedValue
    from computed.services import activate_many, refresh_person

    conn = ctx.conn
    conn.execute("DROP TABLE IF EXISTS bench_ref_value")
    conn.execute(
        "CREATE TABLE bench_ref_value (LIKE computed_computedvalue INCLUDING INDEXES INCLUDING CONSTRAINTS)"
    )
    if "id" in db.columns(conn, "bench_ref_value"):  # a surrogate key, if the values table has one
        conn.execute("ALTER TABLE bench_ref_value ALTER id ADD GENERATED BY DEFAULT AS IDENTITY")
    app_s, raw_s, counts = [], [], {}
    try:
        for r in range(ctx.repeat):
            _reset(ctx)
            attrs = _create(ctx)
            t0 = time.perf_counter()
            activate_many(attrs)
            app_s.append(time.perf_counter() - t0)
            written = ComputedValue.objects.filter(attribute__in=attrs).count()
            ids = {a.key.removeprefix(PREFIX): a.pk for a in attrs}
            conn.execute("TRUNCATE bench_ref_value")
            with conn.transaction():
                conn.execute("SET LOCAL work_mem = '256MB'")
                t0 = time.perf_counter()
                cur = conn.execute(_raw_sql(ids, False), _params(datetime.now(UTC)))
                raw_s.append(time.perf_counter() - t0)
                raw_rows = cur.rowcount
            counts = {"app_rows": written, "raw_rows": raw_rows}
            ctx.log(
                f"  run {r + 1}: activation {app_s[-1]:.2f} s ({written:,} values), "
                f"raw SQL {raw_s[-1]:.2f} s "
                f"({raw_rows:,} values)"
            )
        if counts["app_rows"] != counts["raw_rows"]:
            ctx.log(f"  note: value counts differ, app {counts['app_rows']:,} vs raw {counts['raw_rows']:,}")
        # Single-profile refresh: random profiles, weighted towards active ones.
        rng = random.Random(f"refresh:{ctx.spec.seed}")
        people = [1 + int(ctx.state["persons"] * rng.random() ** 2) for _ in range(60 if ctx.smoke else 300)]
        refresh_ms, raw_ms = [], []
        for pid in people[:5]:
            refresh_person(pid)
        for pid in people:
            t0 = time.perf_counter()
            refresh_person(pid)
            refresh_ms.append((time.perf_counter() - t0) * 1000)
        sql_one = _raw_sql(ids, True).replace("INSERT INTO bench_ref_value", "INSERT INTO bench_ref_one")
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS bench_ref_one (LIKE bench_ref_value INCLUDING ALL)")
        with conn.cursor() as cur:
            for pid in people:
                t0 = time.perf_counter()
                with conn.transaction():
                    cur.execute("DELETE FROM bench_ref_one")
                    cur.execute(sql_one, _params(datetime.now(UTC), pid), prepare=True)
                raw_ms.append((time.perf_counter() - t0) * 1000)
        ctx.notes["computed"] = {"counts": counts, "activation_s": app_s, "raw_s": raw_s}
    finally:
        conn.execute("DROP TABLE IF EXISTS bench_ref_value")
    ctx.log(
        f"  refresh_person p50 {percentile(refresh_ms, 50):.1f} ms p99 {percentile(refresh_ms, 99):.1f} ms; "
        f"raw p50 {percentile(raw_ms, 50):.2f} ms"
    )
    ratio_ok = median(app_s) <= 1.5 * median(raw_s)
    return [
        Row(
            "computed activation",
            "10 event aggregates, all profiles, incl. write-back",
            median(app_s),
            "s",
            median(raw_s),
            "R4 hand-written SQL s",
            target=T_ACTIVATION,
            meets=ratio_ok,
        ),
        Row(
            "computed refresh_person",
            "p50, 10 aggregates, one profile",
            percentile(refresh_ms, 50),
            "ms",
            percentile(raw_ms, 50),
            "R4 for one profile, ms",
        ),
        Row(
            "computed refresh_person",
            "p99",
            percentile(refresh_ms, 99),
            "ms",
            percentile(raw_ms, 99),
            "R4 for one profile, ms",
        ),
    ]
