"""Workload 6: audiences. Each figure beside hand-written SQL that yields the same member set, in the
same run:

- activation of (a) a rules audience on two attributes plus an event count in a 30-day window and
  (b) a three-step funnel with time limits (``audiences.services.activate``: membership write,
  history and switch included) against an ``INSERT … SELECT`` of the same members;
- preview count over all profiles (``audiences.selectors.preview``);
- an ingested event reflected in the membership trait (in process: ``ingest_batch`` → the real-time
  refresh → ``person_traits``; without concurrent load; the figure over HTTP while 1k events/s are
  ingested is the visibility workload's);
- re-evaluating one person against 20 active audiences (``refresh_people([id])``).
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta

from bench.report import Row, median, not_available, percentile

MUTATES = True
PREFIX = "bench_"
T_ACTIVATION = "≤ 1.5× raw SQL"

RULES = {
    "condition": {
        "and": [
            {"attribute": "country", "op": "equals", "value": "US"},
            {"attribute": "gender", "op": "equals", "value": "female"},
            {
                "event": "Order Completed",
                "count": {"op": "gte", "value": 2},
                "window": {"type": "within", "value": 30, "unit": "days"},
            },
        ]
    }
}
FUNNEL = {
    "steps": [
        {"event": "Product Added"},
        {"event": "Checkout Started", "within": {"value": 1, "unit": "days"}},
        {"event": "Order Completed", "within": {"value": 1, "unit": "days"}},
    ]
}
KNOWN = "EXISTS (SELECT 1 FROM identity_identity i WHERE i.person_id = p.id AND NOT i.anonymous)"
RAW_RULES = f"""
INSERT INTO bench_ref_members (person_id)
SELECT p.id FROM people_person p
WHERE p.merged_into_id IS NULL AND {KNOWN}
  AND upper(p.country) = 'US' AND lower(p.gender) = 'female'
  AND p.id IN (SELECT person_id FROM people_event
               WHERE name = 'Order Completed' AND timestamp >= %(d30)s
               GROUP BY person_id HAVING count(*) >= 2)
"""
RAW_FUNNEL = f"""
INSERT INTO bench_ref_members (person_id)
SELECT p.id FROM people_person p
WHERE p.merged_into_id IS NULL AND {KNOWN}
  AND p.id IN (
    SELECT a.person_id FROM people_event a
    JOIN people_event b ON b.person_id = a.person_id AND b.name = 'Checkout Started'
         AND b.timestamp > a.timestamp AND b.timestamp <= a.timestamp + interval '1 day'
    JOIN people_event c ON c.person_id = b.person_id AND c.name = 'Order Completed'
         AND c.timestamp > b.timestamp AND c.timestamp <= b.timestamp + interval '1 day'
    WHERE a.name = 'Product Added')
"""
# Twenty audiences for the per-person re-evaluation: varied attributes, events and windows.
COUNTRIES = ["US", "GB", "DE", "FR", "NL"]
EVENTS = ["Order Completed", "Product Added", "Email Opened", "Page Viewed"]


def twenty() -> list[dict]:
    out = []
    for k in range(20):
        event = {
            "event": EVENTS[k % 4],
            "count": {"op": "gte", "value": 1 + k % 3},
            "window": {"type": "within", "value": 7 * (1 + k % 4), "unit": "days"},
        }
        attribute = {"attribute": "country", "op": "equals", "value": COUNTRIES[k % 5]}
        out.append({"condition": {"and": [attribute, event]} if k % 2 else {"or": [attribute, event]}})
    return out


def unavailable(ctx) -> str | None:
    try:
        from audiences.services import activate  # noqa: F401
    except ImportError as exc:
        return f"audiences app (issue 14) not merged ({exc})"
    if not ctx.state.get("identity_loaded"):
        return "identities not loaded (membership needs a known identifier)"
    return None


def placeholder(reason: str) -> list[Row]:
    return [
        not_available(
            "audience activation", "rules: 2 attributes + event count, 30 days", "s", T_ACTIVATION, reason
        ),
        not_available("audience activation", "funnel: 3 steps with time limits", "s", T_ACTIVATION, reason),
        not_available("audience preview", "count over all profiles", "s", "≤ 2 s", reason),
        not_available("audience refresh_people", "p99, one person, 20 audiences", "ms", "≤ 20 ms", reason),
    ]


def _reset() -> None:
    from audiences.models import Audience, AudienceMembership, MembershipHistory, RetiredAudienceKey

    ids = list(Audience.objects.filter(key__startswith=PREFIX).values_list("pk", flat=True))
    AudienceMembership.objects.filter(audience_id__in=ids).delete()
    MembershipHistory.objects.filter(audience_id__in=ids).delete()
    Audience.objects.filter(pk__in=ids).delete()
    RetiredAudienceKey.objects.filter(key__startswith=PREFIX).delete()


def _activation(ctx, key: str, audience_type: str, definition: dict, raw: str, now: datetime):
    from audiences.models import AudienceMembership
    from audiences.services import activate, audience_create

    conn = ctx.conn
    app_s, raw_s, same = [], [], True

    def run_app() -> tuple[float, set]:
        _reset()
        audience = audience_create(
            key=PREFIX + key, name=key, audience_type=audience_type, definition=definition
        )
        t0 = time.perf_counter()
        audience = activate(audience, now=now)
        seconds = time.perf_counter() - t0
        members = AudienceMembership.objects.filter(audience=audience, version=audience.version)
        return seconds, set(members.values_list("person_id", flat=True))

    def run_raw() -> tuple[float, set]:
        conn.execute("TRUNCATE bench_ref_members")
        with conn.transaction():
            t0 = time.perf_counter()
            conn.execute(raw, {"d30": now - timedelta(days=30)})
            seconds = time.perf_counter() - t0
        return seconds, {r[0] for r in conn.execute("SELECT person_id FROM bench_ref_members").fetchall()}

    # Both read the same pages: an untimed run of the reference first, so that neither is timed on a
    # cold cache the other has warmed; then the order alternates between repetitions.
    run_raw()
    for k in range(ctx.repeat):
        if k % 2:
            seconds, ref = run_raw()
            raw_s.append(seconds)
            seconds, app = run_app()
            app_s.append(seconds)
        else:
            seconds, app = run_app()
            app_s.append(seconds)
            seconds, ref = run_raw()
            raw_s.append(seconds)
        same = same and app == ref
        ctx.log(
            f"  {key}: activation {app_s[-1]:.3f} s ({len(app):,} members), raw SQL {raw_s[-1]:.3f} s "
            f"({len(ref):,}){'' if app == ref else ' — MEMBER SETS DIFFER'}"
        )
    return app_s, raw_s, same


def run(ctx) -> list[Row]:
    from audiences import selectors
    from audiences.definition import check
    from audiences.services import activate, audience_create, refresh_people

    conn = ctx.conn
    now = datetime.now(UTC)
    conn.execute("DROP TABLE IF EXISTS bench_ref_members")
    conn.execute("CREATE TABLE bench_ref_members (person_id bigint PRIMARY KEY)")
    rows: list[Row] = []
    try:
        rules_app, rules_raw, rules_same = _activation(ctx, "rules", "rules", RULES, RAW_RULES, now)
        funnel_app, funnel_raw, funnel_same = _activation(ctx, "funnel", "funnel", FUNNEL, RAW_FUNNEL, now)
        for label, app_s, raw_s, same in (
            ("rules: 2 attributes + event count, 30 days", rules_app, rules_raw, rules_same),
            ("funnel: 3 steps with 1-day limits", funnel_app, funnel_raw, funnel_same),
        ):
            rows.append(
                Row(
                    "audience activation",
                    label + ", incl. membership write",
                    median(app_s),
                    "s",
                    median(raw_s),
                    "hand-written INSERT … SELECT s",
                    target=T_ACTIVATION,
                    meets=median(app_s) <= 1.5 * median(raw_s) and same,
                    note="" if same else "member sets differ",
                )
            )
        # Preview count over all profiles (the rules audience's definition).
        compiled = check("rules", RULES)
        preview_s = []
        for _ in range(max(3, ctx.repeat)):
            t0 = time.perf_counter()
            selectors.preview(compiled)
            preview_s.append(time.perf_counter() - t0)
        rows.append(
            Row(
                "audience preview",
                "count + sample of ten over all profiles",
                median(preview_s),
                "s",
                target="≤ 2 s",
                meets=median(preview_s) <= 2,
            )
        )
        # Twenty active audiences; re-evaluate single people.
        _reset()
        for k, definition in enumerate(twenty()):
            activate(audience_create(key=f"{PREFIX}a{k}", name=f"a{k}", definition=definition), now=now)
        rng = random.Random(f"audiences:{ctx.spec.seed}")
        people = [1 + int(ctx.state["persons"] * rng.random() ** 2) for _ in range(60 if ctx.smoke else 300)]
        for pid in people[:5]:
            refresh_people([pid])
        refresh_ms = []
        for pid in people:
            t0 = time.perf_counter()
            refresh_people([pid])
            refresh_ms.append((time.perf_counter() - t0) * 1000)
        ctx.log(
            f"  refresh_people (20 audiences) p50 {percentile(refresh_ms, 50):.1f} ms "
            f"p99 {percentile(refresh_ms, 99):.1f} ms"
        )
        rows.append(
            Row(
                "audience refresh_people",
                "p50, one person, 20 active audiences",
                percentile(refresh_ms, 50),
                "ms",
            )
        )
        rows.append(
            Row(
                "audience refresh_people",
                "p99, one person, 20 active audiences",
                percentile(refresh_ms, 99),
                "ms",
                target="≤ 20 ms",
                meets=percentile(refresh_ms, 99) <= 20,
            )
        )
        rows.append(_event_to_trait(ctx, now))
        ctx.notes["audiences"] = {
            "rules_s": rules_app,
            "rules_raw_s": rules_raw,
            "funnel_s": funnel_app,
            "funnel_raw_s": funnel_raw,
            "preview_s": preview_s,
        }
    finally:
        _reset()
        conn.execute("DROP TABLE IF EXISTS bench_ref_members")
    return rows


def _event_to_trait(ctx, now: datetime) -> Row:
    """One tracked event in process → real-time refresh → the Profile API's trait reader (no load)."""
    from audiences.selectors import person_traits
    from audiences.services import activate, audience_create, refresh_people
    from identity.models import Identity
    from identity.services import ingest_batch
    from people.models import Person, Source

    source = Source.objects.filter(enabled=True).first()
    if source is None:
        return not_available("audience event → trait", "p95, in process, no load", "ms", "≤ 5 s", "no source")
    activate(
        audience_create(
            key=f"{PREFIX}trait",
            name="trait",
            definition={"condition": {"event": "Bench Purchase", "count": {"op": "gte", "value": 1}}},
        ),
        now=now,
    )
    known = list(
        Identity.objects.filter(type__key="user_id", anonymous=False).values_list("value", "person_id")[:200]
    )
    latencies = []
    for k, (user_id, person_id) in enumerate(known[: 20 if ctx.smoke else 100]):
        t0 = time.perf_counter()
        result = ingest_batch(
            source=source,
            messages=[
                {
                    "type": "track",
                    "userId": user_id,
                    "event": "Bench Purchase",
                    "messageId": f"bench-a-{k}-{t0}",
                }
            ],
        )
        refresh_people(result.person_ids, reason="ingest")  # what the after-commit task does
        traits = person_traits(Person.objects.get(pk=person_id))
        latencies.append((time.perf_counter() - t0) * 1000)
        assert traits.get(f"{PREFIX}trait", {}).get("value") is True
    ctx.conn.execute("DELETE FROM people_event WHERE name = 'Bench Purchase'")
    return Row(
        "audience event → trait",
        "p95, in process, one event at a time (no 1k/s load)",
        percentile(latencies, 95),
        "ms",
        note="without load, in process; under 1k events/s over HTTP: the visibility workload",
    )
