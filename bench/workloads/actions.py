"""Workload: the client actions API.

Setup: 5 audiences (activated over the data set), 50 active actions on the web channel, each with a
trait condition, a context condition, one or two audiences, a per-person capping rule and a template
property. Then:

- ``POST /v1/actions`` for known people (user ids) at a fixed 200 requests/s (open loop): p50, p99;
- ``POST /v1/actions/act`` (show) at the maximum sustained rate (closed loop), without hooks and with an
  asynchronous webhook hook on ``shown`` (the delivery is queued, not sent, inside the act).
"""

from __future__ import annotations

import json
import os

from bench.http import build_request, drive
from bench.report import Row, median
from bench.workloads._common import answered_rate, placeholder_rows, rate_ladder, requires, server

MUTATES = True
RATE = 200
CLIENTS = int(os.environ.get("BENCH_ACTIONS_CLIENTS", "8"))
N_ACTIONS = 50
T_P50, T_P99, T_ACT = "p50 ≤ 5 ms at 200 req/s", "p99 ≤ 20 ms at 200 req/s", "≥ 500 req/s"
COUNTRIES = ["US", "GB", "DE", "FR", "ES", "IT", "NL", "SE", "PL", "BR"]


unavailable = requires(identity=True, routes=("/v1/actions",))
placeholder = placeholder_rows(
    "Actions API",
    ("POST /v1/actions p50 at 200 req/s", "ms", T_P50),
    ("POST /v1/actions p99 at 200 req/s", "ms", T_P99),
    ("POST /v1/actions/act max rate", "req/s", T_ACT),
)


def _setup(ctx) -> list[int]:
    """Audiences and actions (idempotent: earlier bench actions and audiences are replaced)."""
    from actions import services
    from actions.models import Action
    from audiences import services as audience_services
    from audiences.models import Audience

    Action.objects.filter(name__startswith="bench ").delete()
    audiences = []
    groups = [COUNTRIES[:3], COUNTRIES[2:5], COUNTRIES[4:7], COUNTRIES[6:9], COUNTRIES[8:]]
    for n, countries in enumerate(groups):
        audience = Audience.objects.filter(name=f"bench audience {n}", state=Audience.State.ACTIVE).first()
        if audience is None:
            audience = audience_services.audience_create(
                key=audience_services.free_key(f"bench_{n}"),
                name=f"bench audience {n}",
                definition={"condition": {"attribute": "country", "op": "in", "value": countries}},
            )
            audience = audience_services.activate(audience)
        else:  # kept across runs (deleted audience keys cannot be reused): bring it up to date
            audience_services.refresh(audience)
        audiences.append(audience.pk)
        ctx.log(f"  audience {audience.key}: {Audience.objects.get(pk=audience.pk).member_count} members")
    ids = []
    for i in range(N_ACTIONS):
        action = services.action_create(
            name=f"bench {i}",
            type="banner" if i % 2 else "popup",
            tags=["home"] if i % 3 else ["home", "sale"],
            state="active",
            channels=["web"],
            trait_conditions={"attribute": "first_name", "op": "is_not_empty"}
            if i % 2
            else {"attribute": "country", "op": "not_equals", "value": COUNTRIES[i % len(COUNTRIES)]},
            context_conditions=[
                {"channel": "web", "key": "page.path", "type": "text", "op": "starts_with", "value": "/"}
            ],
            audience_ids=[audiences[i % 5]] + ([audiences[(i + 1) % 5]] if i % 4 == 0 else []),
            capping_rules=[{"reaction": "delivered", "group": "user", "count": 10_000, "within_days": 1}],
            properties=[
                {"name": "title", "kind": "template", "value": "Hi {{first_name|there}} from {{city|home}}"},
                {"name": "cta", "kind": "text", "value": "Shop now"},
            ],
        )
        ids.append(action.pk)
    return ids


def _bodies(ctx, n: int) -> tuple[list[bytes], list[str], dict]:
    from bench import model, probes
    from bench.http import basic_auth

    key = ctx.state["write_keys"]["web"]
    sample = probes.lookup_sample(ctx.spec.seed, ctx.state["persons"], n * 3, salt="actions")
    users = [v for t, v, _ in sample if t == model.USER_ID][:n]
    headers = {"Authorization": basic_auth(key), "Content-Type": "application/json"}
    return (
        [
            build_request(
                "POST",
                "/v1/actions",
                json.dumps({"userId": u, "type": "banner", "context": {"page": {"path": "/home"}}}).encode(),
                headers,
            )
            for u in users
        ],
        users,
        headers,
    )


def run(ctx) -> list[Row]:
    action_ids = _setup(ctx)
    reqs, users, headers = _bodies(ctx, 4000)
    acts = [
        build_request(
            "POST",
            "/v1/actions/act",
            json.dumps({"actionId": action_ids[k % len(action_ids)], "userId": u, "event": "show"}).encode(),
            headers,
        )
        for k, u in enumerate(users)
    ]
    seconds = ctx.scale.profile_seconds
    p50s, p99s, served, act_rates, act_p99, hook_rates = [], [], [], [], [], []
    max_rates, half, half_p50, half_p99 = [], [], [], []
    from actions import services
    from actions.models import Action

    with server(ctx) as srv:
        warm = drive(ctx, srv, [(r, 1) for r in reqs[:200]], clients=4)
        ctx.log(f"  warm-up: {dict(warm.statuses)}")
        for r in range(ctx.repeat):
            run = rate_ladder(
                ctx,
                srv,
                [(q, 1) for q in reqs],
                label=f"run {r + 1} /v1/actions",
                clients=CLIENTS,
                rate=RATE,
                seconds=seconds,
                min_half=5.0,
            )
            p50s.append(run.fixed.p(50))
            p99s.append(run.fixed.p(99))
            served.append(answered_rate(run.fixed))
            max_rates.append(answered_rate(run.saturated))
            half.append(run.half_rate)
            half_p50.append(run.half.p(50))
            half_p99.append(run.half.p(99))
            res = drive(ctx, srv, [(a, 1) for a in acts], clients=CLIENTS, seconds=seconds)
            act_rates.append(answered_rate(res))
            act_p99.append(res.p(99))
            ctx.log(
                f"  run {r + 1} /v1/actions/act: {act_rates[-1]:,.0f} req/s, "
                f"p99 {act_p99[-1]:.1f} ms, {dict(res.statuses)}"
            )
        # The same acts with an asynchronous webhook on "shown" for every action (queued, not sent).
        for action in Action.objects.filter(pk__in=action_ids):
            services.action_update(
                action=action,
                hooks=[
                    {"reaction": "shown", "kind": "webhook", "url": "http://127.0.0.1:9/bench", "extra": {}}
                ],
            )
        for r in range(ctx.repeat):
            res = drive(ctx, srv, [(a, 1) for a in acts], clients=CLIENTS, seconds=seconds)
            hook_rates.append(answered_rate(res))
            ctx.log(
                f"  run {r + 1} /v1/actions/act with a webhook hook: {hook_rates[-1]:,.0f} req/s, "
                f"{dict(res.statuses)}"
            )
    ok = bool(served) and median(served) > 0

    def row(figure: str, values: list[float], unit: str, **target) -> Row:
        return Row("Actions API", figure, median(values), unit, **target)

    half_rate = f"half the max rate ({median(half):.0f} req/s)"
    return [
        row(
            f"POST /v1/actions p50 at {RATE} req/s (50 actions, 5 audiences, open loop)",
            p50s,
            "ms",
            target=T_P50,
            meets=ok and median(p50s) <= 5,
        ),
        row(
            f"POST /v1/actions p99 at {RATE} req/s", p99s, "ms", target=T_P99, meets=ok and median(p99s) <= 20
        ),
        row(f"POST /v1/actions answered at {RATE} req/s offered", served, "req/s"),
        row(f"POST /v1/actions max rate ({CLIENTS} clients, closed loop)", max_rates, "req/s"),
        row(f"POST /v1/actions p50 at {half_rate}", half_p50, "ms"),
        row(f"POST /v1/actions p99 at {half_rate}", half_p99, "ms"),
        row(
            f"POST /v1/actions/act max rate ({CLIENTS} clients, closed loop)",
            act_rates,
            "req/s",
            target=T_ACT,
            meets=median(act_rates) >= 500,
        ),
        row("POST /v1/actions/act p99 at max rate", act_p99, "ms"),
        row("POST /v1/actions/act max rate with an async webhook hook", hook_rates, "req/s"),
    ]
