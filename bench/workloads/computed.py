"""Workload 5: computed attributes, each timed against hand-written SQL in the same run.

- Activation (one ``computed.services.activate_many`` call each) of ten event aggregates (R4), three
  formulas over them, and a six-rule score (attribute, event count/window/filter, "never ordered",
  computed input). The reference writes the same rows into a table shaped and indexed like
  ``computed_computedvalue`` (keyed INSERT); the note gives the same SQL loaded into an index-free
  table with the indexes built afterwards (the stricter floor: our first-activation strategy).
- ``refresh_person`` p50/p99 over activity-weighted profiles, with the ten aggregates and with all
  fourteen attributes active, against the ten aggregates' SQL for one profile (prepared, delete +
  insert, one transaction).

The machine may be shared: figures are medians of ``--repeat`` runs; read the ratios.
"""

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


P = PREFIX
FORMULAS = [
    # (key, formula, hand-written expression over joined inputs a, b)
    (
        "open_rate",
        f"round(100 * ({P}email_opens_90d / {P}page_views_30d), 0)",
        ("email_opens_90d", "page_views_30d"),
        "round((100 * (coalesce(a.number, 0) / nullif(coalesce(b.number, 0), 0)))::numeric, 0)::float8",
    ),
    (
        "revenue_share_90d",
        f"{P}revenue_90d / {P}revenue_lifetime",
        ("revenue_90d", "revenue_lifetime"),
        "coalesce(a.number, 0) / nullif(coalesce(b.number, 0), 0)",
    ),
    (
        "days_since_last_order",
        f"days_since({P}last_order_at)",
        ("last_order_at",),
        "floor(extract(epoch FROM (%(now)s - a.moment)) / 86400)::float8",
    ),
]
SCORE = {
    "rules": [
        {"label": "US", "condition": {"attribute": "country", "op": "equals", "value": "US"}, "points": 10},
        {
            "label": "Buyer",
            "condition": {
                "event": "Order Completed",
                "count": {"op": "gte", "value": 3},
                "window": {"type": "within", "value": 90, "unit": "days"},
            },
            "points": 30,
        },
        {
            "label": "Electronics",
            "condition": {
                "event": "Page Viewed",
                "filters": [{"property": "path", "op": "starts_with", "value": "/electronics"}],
                "window": {"type": "within", "value": 30, "unit": "days"},
            },
            "points": 10,
        },
        {
            "label": "Engaged",
            "condition": {"event": "Email Opened", "window": {"type": "within", "value": 14, "unit": "days"}},
            "points": 5,
        },
        {
            "label": "Never ordered",
            "condition": {"event": "Order Completed", "count": {"op": "eq", "value": 0}},
            "points": -5,
        },
        {
            "label": "Big spender",
            "condition": {"attribute": P + "revenue_lifetime", "op": "gt", "value": 500},
            "points": 20,
        },
    ]
}
SCORE_SQL = """
INSERT INTO bench_ref_value (attribute_id, person_id, number, computed_at)
SELECT %(score)s, t.id, t.s, now() FROM (
  SELECT p.id,
    (CASE WHEN p.country = 'US' THEN 10 ELSE 0 END)
    + (CASE WHEN coalesce(e.oc, 0) >= 3 THEN 30 ELSE 0 END)
    + (CASE WHEN coalesce(e.pv, 0) >= 1 THEN 10 ELSE 0 END)
    + (CASE WHEN coalesce(e.eo, 0) >= 1 THEN 5 ELSE 0 END)
    + (CASE WHEN coalesce(e.oc_all, 0) = 0 THEN -5 ELSE 0 END)
    + (CASE WHEN coalesce(r.number, 0) > 500 THEN 20 ELSE 0 END) AS s
  FROM people_person p
  LEFT JOIN (
    SELECT person_id,
      count(*) FILTER (WHERE name = 'Order Completed' AND timestamp >= %(w90)s) AS oc,
      count(*) FILTER (WHERE name = 'Page Viewed' AND timestamp >= %(w30)s
                        AND properties->>'path' LIKE '/electronics%%') AS pv,
      count(*) FILTER (WHERE name = 'Email Opened' AND timestamp >= %(w14)s) AS eo,
      count(*) FILTER (WHERE name = 'Order Completed') AS oc_all
    FROM people_event WHERE name IN ('Order Completed', 'Page Viewed', 'Email Opened')
    GROUP BY person_id) e ON e.person_id = p.id
  LEFT JOIN computed_computedvalue r ON r.attribute_id = %(revenue)s AND r.person_id = p.id
  WHERE p.merged_into_id IS NULL) t
WHERE t.s <> 0
"""


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
    # Partitions of the deleted attributes (the ORM delete above does not drop them).
    rows = ctx.conn.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = 'computed_computedvalue'::regclass AND c.relname ~ '_a[0-9]+$' "
        "AND NOT EXISTS (SELECT 1 FROM computed_computedattribute a "
        "WHERE c.relname = 'computed_computedvalue_a' || a.id)"
    ).fetchall()
    for (name,) in rows:
        ctx.conn.execute(f'DROP TABLE "{name}"')


def _create(ctx) -> list:
    from computed.services import computed_attribute_create

    return [
        computed_attribute_create(
            key=PREFIX + key, name=key.replace("_", " "), kind="aggregate", definition=d
        )
        for key, d, *_ in DEFINITIONS
    ]


def _create_formulas() -> list:
    from computed.services import computed_attribute_create

    return [
        computed_attribute_create(key=PREFIX + key, name=key, kind="formula", definition={"formula": f})
        for key, f, *_ in FORMULAS
    ]


def _create_score() -> list:
    from computed.services import computed_attribute_create

    return [computed_attribute_create(key=PREFIX + "score", name="score", kind="score", definition=SCORE)]


def _raw_sql(ids: dict[str, int], person: bool) -> str:
    """R4: one FILTERed pass per event source, written in long format like computed values (when every
    aggregate of the event has a window, only the window is read)."""
    parts = []
    for event in (OC, PV, EO):
        items = [d for d in DEFINITIONS if d[1]["event"] == event]
        aggs = ", ".join(f"{sql} AS {key}" for key, _, sql, _, _ in items)
        scope = "AND person_id = %(person)s" if person else ""
        lows = {"d90" if "d90" in sql else "d30" if "d30" in sql else None for _, _, sql, _, _ in items}
        if None not in lows:
            scope += " AND timestamp >= %(d90)s" if "d90" in lows else " AND timestamp >= %(d30)s"
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


def _formulas_sql(ids: dict[str, int]) -> list[str]:
    out = []
    for key, _, inputs, expr in FORMULAS:
        joins = " ".join(
            f"LEFT JOIN computed_computedvalue {alias} ON {alias}.attribute_id = {ids[name]} "
            f"AND {alias}.person_id = p.id"
            for alias, name in zip("ab", inputs, strict=False)
        )
        out.append(
            "INSERT INTO bench_ref_value (attribute_id, person_id, number, computed_at) "
            f"SELECT {ids[key]}, t.id, t.v, now() "
            f"FROM (SELECT p.id, {expr} AS v FROM people_person p {joins} "
            "WHERE p.merged_into_id IS NULL) t WHERE t.v IS NOT NULL"
        )
    return out


def _params(now: datetime, person: int | None = None) -> dict:
    today = datetime(now.year, now.month, now.day, tzinfo=UTC)
    return {
        "now": now,
        "today": today,
        "d90": today - timedelta(days=90),
        "d30": today - timedelta(days=30),
        "w90": now - timedelta(days=90),
        "w30": now - timedelta(days=30),
        "w14": now - timedelta(days=14),
        "person": person,
    }


def _reference(conn, statements: list[str], params: dict) -> tuple[float, int, float]:
    """The hand-written statements: keyed INSERT (seconds, rows), then load-then-index (seconds)."""
    conn.execute("TRUNCATE bench_ref_value")
    with conn.transaction():
        conn.execute("SET LOCAL work_mem = '256MB'")
        conn.execute("SET LOCAL jit = off")
        t0 = time.perf_counter()
        rows = sum(conn.execute(sql, params).rowcount for sql in statements)
        keyed = time.perf_counter() - t0
    conn.execute("DROP TABLE IF EXISTS bench_ref_load")
    with conn.transaction():
        conn.execute("SET LOCAL work_mem = '256MB'")
        conn.execute("SET LOCAL maintenance_work_mem = '256MB'")
        conn.execute("SET LOCAL jit = off")
        t0 = time.perf_counter()
        conn.execute("CREATE TABLE bench_ref_load (LIKE computed_computedvalue INCLUDING DEFAULTS)")
        for sql in statements:
            conn.execute(sql.replace("bench_ref_value", "bench_ref_load"), params)
        conn.execute("ALTER TABLE bench_ref_load ADD PRIMARY KEY (attribute_id, person_id)")
        conn.execute("CREATE INDEX ON bench_ref_load (person_id)")
        loaded = time.perf_counter() - t0
    conn.execute("DROP TABLE bench_ref_load")
    return keyed, rows, loaded


def _refresh_ms(people: list[int]) -> list[float]:
    from computed.services import refresh_person

    for pid in people[:5]:
        refresh_person(pid)
    out = []
    for pid in people:
        t0 = time.perf_counter()
        refresh_person(pid)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def _statements(name: str, ids: dict[str, int]) -> list[str]:
    if name == "aggregates":
        return [_raw_sql(ids, False)]
    return _formulas_sql(ids) if name == "formulas" else [SCORE_SQL]


ACTIVATIONS = (
    ("aggregates", "10 event aggregates, all profiles, incl. write-back"),
    ("formulas", "3 formulas over them, all profiles"),
    ("score", "6-rule score, all profiles"),
)


def run(ctx) -> list[Row]:
    from computed.models import ComputedAttribute, ComputedValue
    from computed.services import activate_many

    conn = ctx.conn
    conn.execute("DROP TABLE IF EXISTS bench_ref_value")
    conn.execute(
        "CREATE TABLE bench_ref_value (LIKE computed_computedvalue INCLUDING INDEXES INCLUDING CONSTRAINTS)"
    )
    if "id" in db.columns(conn, "bench_ref_value"):  # a surrogate key, if the values table has one
        conn.execute("ALTER TABLE bench_ref_value ALTER id ADD GENERATED BY DEFAULT AS IDENTITY")
    ours: dict[str, list[float]] = {name: [] for name, _ in ACTIVATIONS}
    keyed: dict[str, list[float]] = {name: [] for name, _ in ACTIVATIONS}
    loaded: dict[str, list[float]] = {name: [] for name, _ in ACTIVATIONS}
    counts: dict[str, dict] = {}
    try:
        for r in range(ctx.repeat):
            _reset(ctx)
            ids: dict[str, int] = {}
            for name, _ in ACTIVATIONS:
                attrs = (
                    _create(ctx)
                    if name == "aggregates"
                    else _create_formulas()
                    if name == "formulas"
                    else _create_score()
                )
                ids |= {a.key.removeprefix(PREFIX): a.pk for a in attrs}
                t0 = time.perf_counter()
                activate_many(attrs)
                ours[name].append(time.perf_counter() - t0)
                written = ComputedValue.objects.filter(attribute__in=attrs).count()
                params = _params(datetime.now(UTC)) | {
                    "score": ids.get("score"),
                    "revenue": ids["revenue_lifetime"],
                }
                seconds, rows, load_s = _reference(conn, _statements(name, ids), params)
                keyed[name].append(seconds)
                loaded[name].append(load_s)
                counts[name] = {"app_rows": written, "raw_rows": rows}
                ctx.log(
                    f"  run {r + 1} {name}: activation {ours[name][-1]:.2f} s ({written:,} values), "
                    f"raw SQL {seconds:.2f} s ({rows:,} values), load then index {load_s:.2f} s"
                )
                if written != rows:
                    ctx.log(f"  note: value counts differ, app {written:,} vs raw {rows:,}")
        # Single-profile refresh: random profiles, weighted towards active ones.
        rng = random.Random(f"refresh:{ctx.spec.seed}")
        people = [1 + int(ctx.state["persons"] * rng.random() ** 2) for _ in range(60 if ctx.smoke else 300)]
        ComputedAttribute.objects.filter(key__startswith=PREFIX).update(state="disabled")
        ComputedAttribute.objects.filter(key__in=[PREFIX + k for k, *_ in DEFINITIONS]).update(state="active")
        refresh_ms = _refresh_ms(people)
        ComputedAttribute.objects.filter(key__startswith=PREFIX).update(state="active")
        refresh_all_ms = _refresh_ms(people)
        raw_ms = []
        sql_one = _raw_sql(ids, True).replace("INSERT INTO bench_ref_value", "INSERT INTO bench_ref_one")
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS bench_ref_one (LIKE bench_ref_value INCLUDING ALL)")
        with conn.cursor() as cur:
            for pid in people:
                t0 = time.perf_counter()
                with conn.transaction():
                    cur.execute("DELETE FROM bench_ref_one")
                    cur.execute(sql_one, _params(datetime.now(UTC), pid), prepare=True)
                raw_ms.append((time.perf_counter() - t0) * 1000)
        ctx.notes["computed"] = {
            "counts": counts,
            "activation_s": ours,
            "raw_s": keyed,
            "load_then_index_s": loaded,
        }
    finally:
        conn.execute("DROP TABLE IF EXISTS bench_ref_value")
    ctx.log(
        f"  refresh_person p50 {percentile(refresh_ms, 50):.1f} ms p99 {percentile(refresh_ms, 99):.1f} ms "
        f"(14 attributes: p50 {percentile(refresh_all_ms, 50):.1f} ms); "
        f"raw p50 {percentile(raw_ms, 50):.2f} ms"
    )
    rows = [
        Row(
            "computed activation",
            metric,
            median(ours[name]),
            "s",
            median(keyed[name]),
            "hand-written SQL (keyed INSERT) s",
            target=T_ACTIVATION if name == "aggregates" else "",
            meets=median(ours[name]) <= 1.5 * median(keyed[name]) if name == "aggregates" else None,
            note=f"hand-written load then index: {median(loaded[name]):.2f} s",
        )
        for name, metric in ACTIVATIONS
    ]
    return rows + [
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
        Row(
            "computed refresh_person",
            "p50, 14 attributes (10 aggregates, 3 formulas, 1 score), one profile",
            percentile(refresh_all_ms, 50),
            "ms",
        ),
    ]
