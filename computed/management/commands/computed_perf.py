"""``manage.py computed_perf``: activation and refresh of computed attributes against hand-written SQL.

PostgreSQL only, on a loaded bench database (``python -m bench load --size S|M``)::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/attune_computedperf_bench \
        python manage.py computed_perf --repeat 3

Three activation workloads, each timed against the equivalent hand-written SQL in the same run and
writing the same keyed rows (a table shaped and indexed like ``computed_computedvalue``):

- 10 event aggregates (the bench's R4 definitions) — one ``activate_many`` call;
- 3 formulas over them — one ``activate_many`` call;
- a 6-rule scoring model (attribute, event count/window/filter, "never ordered", computed input).

Then ``refresh_person`` p50/p99 over random (activity-weighted) profiles, 10 and 14 active attributes,
against the hand-written statements for one profile (prepared, delete + insert, one transaction).
The machine may be shared: every figure is a median, and the ratios are what to read.
"""

from __future__ import annotations

import random
import statistics
import time
from datetime import UTC, datetime, timedelta

from django.core.management.base import BaseCommand
from django.db import connection, transaction

PREFIX = "perf_"
OC, PV, EO = "Order Completed", "Page Viewed", "Email Opened"
D90 = {"type": "full_days", "value": 90}
LIFE = {"type": "lifetime"}
AMOUNT = "(properties->>'amount')::float8"
IN90 = "timestamp >= %(d90)s AND timestamp < %(today)s"
AGGREGATES = [
    (
        "orders_90d",
        {"function": "count", "event": OC, "period": D90},
        f"count(*) FILTER (WHERE {IN90})",
        "n",
        0,
    ),
    (
        "revenue_90d",
        {"function": "sum", "event": OC, "property": "amount", "period": D90},
        f"sum({AMOUNT}) FILTER (WHERE {IN90})",
        "n",
        0,
    ),
    (
        "revenue_lifetime",
        {"function": "sum", "event": OC, "property": "amount", "period": LIFE},
        f"sum({AMOUNT})",
        "n",
        0,
    ),
    (
        "average_order",
        {"function": "average", "event": OC, "property": "amount", "period": LIFE},
        f"avg({AMOUNT})",
        "n",
        None,
    ),
    (
        "largest_order",
        {"function": "max", "event": OC, "property": "amount", "period": LIFE},
        f"max({AMOUNT})",
        "n",
        None,
    ),
    (
        "first_order_at",
        {"function": "min", "event": OC, "property": "$timestamp", "period": LIFE},
        "min(timestamp)",
        "m",
        None,
    ),
    (
        "last_order_at",
        {"function": "max", "event": OC, "property": "$timestamp", "period": LIFE},
        "max(timestamp)",
        "m",
        None,
    ),
    (
        "distinct_products",
        {"function": "count_distinct", "event": OC, "property": "product_id", "period": LIFE},
        "count(DISTINCT properties->>'product_id')",
        "n",
        0,
    ),
    (
        "page_views_30d",
        {"function": "count", "event": PV, "period": {"type": "full_days", "value": 30}},
        "count(*) FILTER (WHERE timestamp >= %(d30)s AND timestamp < %(today)s)",
        "n",
        0,
    ),
    (
        "email_opens_90d",
        {"function": "count", "event": EO, "period": D90},
        f"count(*) FILTER (WHERE {IN90})",
        "n",
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
INSERT INTO cx_ref_value (attribute_id, person_id, number, computed_at)
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


def aggregates_sql(ids: dict[str, int], person: bool) -> str:
    """One FILTERed pass per event source, unpivoted to keyed rows (the bench's R4, same rows)."""
    parts = []
    for event in (OC, PV, EO):
        items = [d for d in AGGREGATES if d[1]["event"] == event]
        aggs = ", ".join(f"{sql} AS {key}" for key, _, sql, _, _ in items)
        scope = "AND person_id = %(person)s" if person else ""
        # Every aggregate of the event windowed: read only the window (the (name, timestamp) index).
        lows = {"d90" if "d90" in sql else "d30" if "d30" in sql else None for _, _, sql, _, _ in items}
        if None not in lows:
            scope += " AND timestamp >= %(d90)s" if "d90" in lows else " AND timestamp >= %(d30)s"
        values = ", ".join(
            f"({ids[key]}, "
            + (f"{key}::float8, NULL::timestamptz" if col == "n" else f"NULL::float8, {key}")
            + (f", {key} IS NOT NULL)" if empty is None else f", {key} IS NOT NULL AND {key} <> {empty})")
            for key, _, _, col, empty in items
        )
        parts.append(
            f"SELECT v.a, g.person_id, v.num, v.mom FROM (SELECT person_id, {aggs} FROM people_event "
            f"WHERE name = '{event}' {scope} GROUP BY person_id) g "
            f"CROSS JOIN LATERAL (VALUES {values}) v(a, num, mom, keep) WHERE v.keep"
        )
    return (
        "INSERT INTO cx_ref_value (attribute_id, person_id, number, moment, computed_at) "
        f"SELECT a, person_id, num, mom, now() FROM ({' UNION ALL '.join(parts)}) r"
    )


def formulas_sql(ids: dict[str, int]) -> list[str]:
    out = []
    for key, _, inputs, expr in FORMULAS:
        joins = " ".join(
            f"LEFT JOIN computed_computedvalue {alias} ON {alias}.attribute_id = {ids[name]} "
            f"AND {alias}.person_id = p.id"
            for alias, name in zip("ab", inputs, strict=False)
        )
        out.append(
            "INSERT INTO cx_ref_value (attribute_id, person_id, number, computed_at) "
            f"SELECT {ids[key]}, t.id, t.v, now() "
            f"FROM (SELECT p.id, {expr} AS v FROM people_person p {joins} "
            "WHERE p.merged_into_id IS NULL) t WHERE t.v IS NOT NULL"
        )
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


class Command(BaseCommand):
    help = "Time computed-attribute activation and refresh against hand-written SQL (PostgreSQL)."

    def add_arguments(self, parser):
        parser.add_argument("--repeat", type=int, default=3)
        parser.add_argument("--people", type=int, default=300)
        parser.add_argument("--only", default="aggregates,formulas,score,refresh")

    def log(self, msg: str) -> None:
        self.stdout.write(f"[{datetime.now().strftime('%H:%M:%S')}] {msg}")  # noqa: DTZ005
        self.stdout.flush()

    def handle(self, *args, repeat: int, people: int, only: str, **options):
        if connection.vendor != "postgresql":
            raise SystemExit("computed_perf needs PostgreSQL")
        only_set = set(only.split(","))
        self.loaded: dict[str, list[float]] = {}
        results: dict[str, tuple[list[float], list[float]]] = {}
        with connection.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS cx_ref_value")
            cur.execute("CREATE TABLE cx_ref_value (LIKE computed_computedvalue INCLUDING ALL)")
        try:
            for r in range(repeat):
                attrs = self._reset_and_create()
                ids = {a.key.removeprefix(PREFIX): a.pk for a in attrs}
                for name in ("aggregates", "formulas", "score"):
                    if name in only_set or (name == "aggregates"):
                        ours, ref, rows = self._activation(name, attrs, ids)
                        results.setdefault(name, ([], []))
                        results[name][0].append(ours)
                        results[name][1].append(ref)
                        self.log(f"run {r + 1} {name}: ours {ours:.2f} s, hand-written {ref:.2f} s ({rows})")
            if "refresh" in only_set:
                self._refresh(people, ids)
        finally:
            with connection.cursor() as cur:
                cur.execute("DROP TABLE IF EXISTS cx_ref_value")
        self.stdout.write(
            "\n| activation | ours | hand-written, keyed INSERT | ratio "
            "| hand-written, load then index | ratio |"
            "\n|---|---|---|---|---|---|"
        )
        for name, (ours, ref) in results.items():
            a, b, c = statistics.median(ours), statistics.median(ref), statistics.median(self.loaded[name])
            self.stdout.write(f"| {name} | {a:.2f} s | {b:.2f} s | {a / b:.2f}× | {c:.2f} s | {a / c:.2f}× |")

    def _reset_and_create(self):
        from computed.models import ComputedAttribute
        from computed.services import computed_attribute_create

        with connection.cursor() as cur:
            cur.execute("TRUNCATE computed_computedvalue")
        ComputedAttribute.objects.filter(key__startswith=PREFIX).delete()
        # Partitions of deleted attributes (the ORM delete above does not drop them).
        with connection.cursor() as cur:
            cur.execute(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = 'computed_computedvalue'::regclass AND c.relname ~ '_a[0-9]+$' "
                "AND NOT EXISTS (SELECT 1 FROM computed_computedattribute a "
                "WHERE c.relname = 'computed_computedvalue_a' || a.id)"
            )
            for (name,) in cur.fetchall():
                cur.execute(f'DROP TABLE "{name}"')
        out = [
            computed_attribute_create(key=PREFIX + key, name=key, kind="aggregate", definition=d)
            for key, d, *_ in AGGREGATES
        ]
        self.aggregates = list(out)
        return out

    def _activation(self, name, attrs, ids):
        from computed.models import ComputedAttribute, ComputedValue
        from computed.services import activate_many, computed_attribute_create

        if name == "aggregates":
            todo = self.aggregates
        elif name == "formulas":
            todo = [
                computed_attribute_create(
                    key=PREFIX + key, name=key, kind="formula", definition={"formula": f}
                )
                for key, f, *_ in FORMULAS
            ]
        else:
            todo = [
                computed_attribute_create(key=PREFIX + "score", name="score", kind="score", definition=SCORE)
            ]
        for a in todo:
            ids[a.key.removeprefix(PREFIX)] = a.pk
        with connection.cursor() as cur:
            cur.execute("CHECKPOINT")
        t0 = time.perf_counter()
        activate_many(todo)
        ours = time.perf_counter() - t0
        written = ComputedValue.objects.filter(attribute__in=todo).count()
        assert all(a.state == "active" for a in ComputedAttribute.objects.filter(pk__in=[a.pk for a in todo]))
        now = datetime.now(UTC)
        params = _params(now) | {"score": ids.get("score"), "revenue": ids["revenue_lifetime"]}
        if name == "aggregates":
            statements = [aggregates_sql(ids, False)]
        elif name == "formulas":
            statements = formulas_sql(ids)
        else:
            statements = [SCORE_SQL]
        with connection.cursor() as cur:
            cur.execute("TRUNCATE cx_ref_value")
            cur.execute("CHECKPOINT")
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute("SET LOCAL work_mem = '256MB'")
            cur.execute("SET LOCAL jit = off")
            t0 = time.perf_counter()
            raw_rows = 0
            for sql in statements:
                cur.execute(sql, params)
                raw_rows += cur.rowcount
            ref = time.perf_counter() - t0
        # The same hand-written SQL with our write strategy: an index-free table, indexes built after.
        with connection.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS cx_ref_load")
            cur.execute("CHECKPOINT")
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute("SET LOCAL work_mem = '256MB'")
            cur.execute("SET LOCAL maintenance_work_mem = '256MB'")
            cur.execute("SET LOCAL jit = off")
            t0 = time.perf_counter()
            cur.execute("CREATE TABLE cx_ref_load (LIKE computed_computedvalue INCLUDING DEFAULTS)")
            for sql in statements:
                cur.execute(sql.replace("cx_ref_value", "cx_ref_load"), params)
            cur.execute("ALTER TABLE cx_ref_load ADD PRIMARY KEY (attribute_id, person_id)")
            cur.execute("CREATE INDEX ON cx_ref_load (person_id)")
            self.loaded.setdefault(name, []).append(time.perf_counter() - t0)
        with connection.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS cx_ref_load")
        note = f"{written:,} rows vs {raw_rows:,}" + ("" if written == raw_rows else "  ROW COUNTS DIFFER")
        note += f"; hand-written load-then-index {self.loaded[name][-1]:.2f} s"
        return ours, ref, note

    def _refresh(self, n: int, ids: dict[str, int]) -> None:
        import psycopg  # noqa: F401

        from computed.models import ComputedAttribute
        from computed.services import refresh_person

        with connection.cursor() as cur:
            cur.execute("SELECT max(id) FROM people_person")
            top = cur.fetchone()[0]
        rng = random.Random(7)
        sample = [1 + int(top * rng.random() ** 2) for _ in range(n)]
        for label, keys in (("10 aggregates", [k for k, *_ in AGGREGATES]), ("all 14", list(ids))):
            ComputedAttribute.objects.filter(key__startswith=PREFIX).update(state="disabled")
            ComputedAttribute.objects.filter(key__in=[PREFIX + k for k in keys]).update(state="active")
            for pid in sample[:10]:
                refresh_person(pid)
            times = []
            for pid in sample:
                t0 = time.perf_counter()
                refresh_person(pid)
                times.append((time.perf_counter() - t0) * 1000)
            self.log(
                f"refresh_person, {label}: p50 {pct(times, 50):.2f} ms, p99 {pct(times, 99):.2f} ms "
                f"(n={len(times)})"
            )
        ComputedAttribute.objects.filter(key__startswith=PREFIX).update(state="active")
        raw = connection.connection  # psycopg connection
        one = aggregates_sql(ids, True).replace("cx_ref_value", "cx_ref_one")
        with connection.cursor() as cur:
            # A logged table: the refresh writes durable rows, so its reference pays the same commit.
            cur.execute("DROP TABLE IF EXISTS cx_ref_one")
            cur.execute("CREATE TABLE cx_ref_one (LIKE computed_computedvalue INCLUDING ALL)")
        times = []
        with raw.cursor() as cur:
            for pid in sample:
                t0 = time.perf_counter()
                with raw.transaction():
                    cur.execute(
                        "DELETE FROM cx_ref_one WHERE person_id = %(person)s", {"person": pid}, prepare=True
                    )
                    cur.execute(one, _params(datetime.now(UTC), pid), prepare=True)
                times.append((time.perf_counter() - t0) * 1000)
        with connection.cursor() as cur:
            cur.execute("DROP TABLE cx_ref_one")
        self.log(
            f"hand-written one-person refresh (10 aggregates): p50 {pct(times, 50):.2f} ms, "
            f"p99 {pct(times, 99):.2f} ms"
        )
