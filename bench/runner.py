"""The command line and the orchestration of one run."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import signal
import sys
import time
import traceback
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import urlsplit

from bench import cluster, db, generate, http, load, probes, report
from bench.context import Context
from bench.report import Row
from bench.sizes import SIZES, smoke

WORKLOADS = (
    "ingest",
    "track",
    "merge",
    "profile_api",
    "computed",
    "audiences",
    "actions",
    "privacy",
    "csv_import",
    "visibility",
)


def log(msg: str) -> None:
    print(f"[{datetime.now().strftime('%H:%M:%S')}] {msg}", flush=True)  # noqa: DTZ005


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="generate and load if needed, run workloads, report")
    for sp in (run, sub.add_parser("load", help="generate and (re)load the data set only")):
        sp.add_argument("--size", choices=sorted(SIZES), default="S")
        sp.add_argument("--seed", type=int, default=1)
        sp.add_argument(
            "--anchor",
            type=date.fromisoformat,
            default=None,
            help="last day of the 12-month event window (default: today, UTC)",
        )
        sp.add_argument(
            "--own-cluster",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="run on the bench's own PostgreSQL cluster with the bench's settings "
            "(default: on for sizes M and L where it can run, off for S)",
        )
        cluster_options(sp)
    run.add_argument(
        "--allow-foreign-settings",
        action="store_true",
        help="run size M or L on a server whose settings differ from the bench's (the report says so)",
    )
    run.add_argument("--only", default="", help=f"comma-separated subset of {','.join(WORKLOADS)}")
    run.add_argument("--smoke", action="store_true", help="CI: every workload briefly, one repetition")
    run.add_argument("--repeat", type=int, default=3, help="runs per workload; the median is reported")
    run.add_argument(
        "--ingest-messages", type=int, default=None, help="messages per ingest run (default: the size's)"
    )
    run.add_argument(
        "--keep-data", action="store_true", help="reuse the loaded data even if earlier workloads changed it"
    )
    run.add_argument("--reload", action="store_true", help="reload the data set even if it is current")
    run.add_argument(
        "--output",
        type=Path,
        default=None,
        help="JSON output (default: bench/results/latest.json for M, none otherwise)",
    )
    cl = sub.add_parser("cluster", help="the bench's own PostgreSQL cluster: start, stop or status")
    cl.add_argument("action", choices=("start", "stop", "status"))
    cluster_options(cl)
    prof = sub.add_parser("profile", help="cProfile one request kind in-process, with its SQL")
    prof.add_argument(
        "kind",
        choices=("track", "batch", "identify", "profile_api", "computed", "actions", "actions_again", "act"),
    )
    prof.add_argument("-n", type=int, default=300)
    return p.parse_args(argv)


def cluster_options(sp: argparse.ArgumentParser) -> None:
    sp.add_argument(
        "--cluster-dir", type=Path, default=cluster.DATA_DIR, help="the own cluster's data directory"
    )
    sp.add_argument("--cluster-port", type=int, default=cluster.PORT, help="the own cluster's port")


def own_cluster(args: argparse.Namespace) -> cluster.Cluster | None:
    """The bench's cluster when this run uses it: asked for, or by default at M and L where possible."""
    wanted = args.own_cluster
    if wanted is None:
        wanted = args.size in ("M", "L") and cluster.Cluster.unavailable() is None
        if args.size in ("M", "L") and not wanted:
            log(f"no own cluster here ({cluster.Cluster.unavailable()}): using DATABASE_URL's server")
    return cluster.Cluster(port=args.cluster_port, data_dir=args.cluster_dir) if wanted else None


def postgres(args: argparse.Namespace, *, strict: bool) -> tuple[str, dict]:
    """The bench database's URL on the server this run uses, started and configured; and the record of
    that server's settings. ``strict``: refuse a foreign server whose settings differ (M and L runs)."""
    url = db.database_url()
    wanted = cluster.recommended()
    own = own_cluster(args)
    if own:
        own.ensure(wanted, log)
        url = own.url(db.database_name(url))
        where = f"the bench's own cluster {own.version}/{own.name}, port {own.port}, data in {own.data_dir}"
    else:
        parts = urlsplit(url)
        where = f"DATABASE_URL's server {parts.hostname}:{parts.port or 5432} (not the bench's own cluster)"
    db.ensure_database(url, log)
    with db.connect(url) as conn:
        settings = cluster.current(conn)
    differ = cluster.compare(settings, wanted)
    record = {
        "cluster": "own" if own else "foreign",
        "where": where,
        "settings": {name: v["value"] for name, v in settings.items()},
        "recommended": wanted,
        "differ": differ,
    }
    if differ and own:
        raise SystemExit(
            f"bench: the own cluster does not run with the bench's settings: {'; '.join(differ)}"
        )
    if differ:
        log(f"server settings differ: {'; '.join(differ)}")
        if strict:
            raise SystemExit(
                f"bench: size {args.size} on a server whose settings differ from the bench's "
                f"({'; '.join(differ)}). Use the own cluster (--own-cluster), or pass "
                "--allow-foreign-settings to run anyway (the report then says the settings differ)."
            )
    return url, record


def prepare(
    args: argparse.Namespace, *, force_reload: bool, keep: bool, strict: bool = False
) -> tuple[str, generate.Spec, dict, dict]:
    url, pg = postgres(args, strict=strict)
    anchor = args.anchor or datetime.now(UTC).date()
    spec = generate.Spec(SIZES[args.size], args.seed, anchor)
    db.migrate(url, log)
    db.setup_django(url)
    with db.connect(url) as conn:
        state = load.get_state(conn, "dataset")
    from bench import adapters

    current = (
        state
        and state.get("spec") == spec.key
        and state.get("identity_loaded") == adapters.identity_available()
        and (keep or not state.get("dirty"))
    )
    if force_reload or not current:
        t0 = time.perf_counter()
        generate.generate(spec, log=log)
        gen_s = time.perf_counter() - t0
        log(f"loading {spec.key} into {db.database_name(url)}")
        t0 = time.perf_counter()
        state = load.load(url, spec, log=log)
        state["timings"]["generate_s"] = gen_s
        state["timings"]["load_total_s"] = time.perf_counter() - t0
        log(f"loaded in {state['timings']['load_total_s']:.0f} s (generation {gen_s:.0f} s)")
        with db.connect(url) as conn:
            load.set_state(conn, "dataset", state)
    else:
        log(f"data set {spec.key} already loaded")
        # The probes and the ingest stream read the generated files: a fresh checkout (CI) reuses
        # the loaded database but has no bench/data yet. Generation is deterministic and writes only
        # missing chunks.
        generate.generate(spec, log=log)
    return url, spec, state, pg


# The definitions the workloads create (computed, audiences, actions, visibility), by key or name.
LEFTOVERS = (
    ("computed_computedattribute", "key", "bench\\_%", "disabled"),
    ("audiences_audience", "key", "bench\\_%", "disabled"),
    ("actions_action", "name", "bench %", "inactive"),
)


def disable_leftovers(ctx: Context) -> None:
    """Switch off what earlier runs left active (a ``--keep-data`` run reuses their database), so every
    run starts with no active definitions: the ingestion and Profile API rows measure the same work,
    and the later workloads create and activate their own."""
    for table, column, pattern, off in LEFTOVERS:
        if not db.columns(ctx.conn, table):
            continue
        found = ctx.conn.execute(
            f"UPDATE {table} SET state = %s WHERE state = 'active' AND {column} LIKE %s", [off, pattern]
        )
        if found.rowcount:
            ctx.log(f"{table}: {found.rowcount} definition(s) left active by an earlier run switched off")


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    # A terminated run (timeout, CI cancel) unwinds like an interrupted one, so the gunicorn and
    # qcluster processes its workloads started are stopped, not left behind.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.command == "profile":
        from bench import profiling

        profiling.main(args.kind, args.n, "")
        return 0
    if args.command == "cluster":
        return cluster_command(args)
    if args.command == "load":
        prepare(args, force_reload=True, keep=False)
        return 0
    only = [w.strip() for w in args.only.split(",") if w.strip()] or list(WORKLOADS)
    unknown = set(only) - set(WORKLOADS)
    if unknown:
        raise SystemExit(f"bench: unknown workload(s) {', '.join(sorted(unknown))}; choose from {WORKLOADS}")
    git = report.git_state()
    strict = args.size in ("M", "L") and not args.smoke and not args.allow_foreign_settings
    url, spec, state, pg = prepare(args, force_reload=args.reload, keep=args.keep_data, strict=strict)
    scale = smoke(spec.size) if args.smoke else spec.size
    if args.ingest_messages:
        scale = dataclasses.replace(scale, ingest_messages=args.ingest_messages)
    conn = db.connect(url)
    ctx = Context(url, spec, scale, 1 if args.smoke else max(1, args.repeat), args.smoke, conn, state)
    mach = report.machine(db.server_info(conn))
    disable_leftovers(ctx)
    rows: list[Row] = []
    failed = []
    rows += [dataclasses.replace(r, group="probes") for r in run_probes(ctx, only)]
    from bench import workloads

    for name in only:
        module = workloads.get(name)
        reason = module.unavailable(ctx)
        if reason:
            ctx.log(f"{name}: not available ({reason})")
            rows += [dataclasses.replace(r, group=name) for r in module.placeholder(reason)]
            continue
        ctx.log(f"{name}: running")
        try:
            rows += [dataclasses.replace(r, group=name) for r in module.run(ctx)]
        except Exception as exc:
            traceback.print_exc()
            failed.append(name)
            rows += [
                report.Row(
                    name, "error", None, "", note=f"error: {exc}", available=False, meets=False, group=name
                )
            ]
        finally:
            load.mark_dirty(conn) if module.MUTATES else None
    rows = [r.finish() for r in rows]
    partial = only != list(WORKLOADS)
    started = mach.get("load_average_at_start")
    extra = {
        "commit": git["commit"],
        "dirty": git["dirty"],
        "dirty_paths": git["dirty_paths"],
        "seed": spec.seed,
        "anchor": spec.anchor.isoformat(),
        "smoke": args.smoke,
        "only": only if partial else None,
        "postgresql": pg,
        "server": http.server_layout(),
        "data": {k: state.get(k) for k in ("persons", "events", "identities")},
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "load": state.get("timings", {}),
        "notes": ctx.notes,
    }
    doc = report.document(rows, spec.size.name, mach, extra)
    doc["runs"] = [
        {
            "date": doc["date"],
            "commit": git["commit"],
            "workloads": only if partial else None,
            "load_average_at_start": started,
        }
    ]
    print()
    print(report.header(doc))
    print()
    print(report.markdown(rows))
    output = args.output or (
        report.RESULTS / "latest.json" if spec.size.name == "M" and not args.smoke else None
    )
    if output:
        write_results(doc, output, partial)
    conn.close()
    if failed:
        print(f"bench: workload error(s): {', '.join(failed)}")
        return 1
    return 0


def write_results(doc: dict, output: Path, partial: bool) -> None:
    """The run's results file and its markdown twin. A partial run is stitched into an existing file
    only where ``report.stitch`` allows; otherwise it goes to a file of its own beside it."""
    if partial and output.exists():
        try:
            doc = report.stitch(json.loads(output.read_text()), doc, ["probes", *WORKLOADS])
            log(f"{', '.join(doc['runs'][-1]['workloads'])}: rows replaced in {output}")
        except (report.StitchRefused, ValueError, KeyError) as exc:
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
            log(f"not stitched into {output}: {exc}")
            output = output.with_name(f"run-{stamp}.json")
    path = report.save(doc, output)
    path.with_suffix(".md").write_text(
        report.header(doc) + "\n\n" + report.markdown(report.rows_of(doc)) + "\n"
    )
    print(f"\nwrote {path} and {path.with_suffix('.md').name}")


def cluster_command(args: argparse.Namespace) -> int:
    own = cluster.Cluster(port=args.cluster_port, data_dir=args.cluster_dir)
    if args.action == "start":
        own.ensure(cluster.recommended(), log)
        print(f"running: {own.url('…')}")
    elif args.action == "stop":
        own.stop(log)
    else:
        reason = own.unavailable()
        state = "running" if own.exists() and own.running() else "stopped" if own.exists() else "not created"
        print(f"cluster {own.version}/{own.name}, port {own.port}, data {own.data_dir}: {state}")
        if reason:
            print(f"cannot run here: {reason}")
    return 0


def run_probes(ctx: Context, only: list[str]) -> list[Row]:
    rows: list[Row] = []
    ctx.log("probe R1: raw COPY into a copy of people_event")
    r1 = probes.raw_copy(ctx.conn, ctx.spec, ctx.scale.probe_events, ctx.repeat)
    ctx.references["copy_rows_per_s"] = r1["rows_per_s"]
    rows.append(
        Row(
            "R1 raw COPY of events",
            f"rows/s into people_event's shape ({r1['indexes']} indexes)",
            r1["rows_per_s"],
            "rows/s",
        )
    )
    lean = probes.raw_copy(ctx.conn, ctx.spec, ctx.scale.probe_events, ctx.repeat, lean=True)
    rows.append(
        Row(
            "R1b raw COPY, lean indexes",
            f"rows/s, pk + (person_id, timestamp) + BRIN only ({lean['indexes']} indexes)",
            lean["rows_per_s"],
            "rows/s",
            r1["rows_per_s"],
            "R1 rows/s",
        )
    )
    ctx.log("probe R2/R3: scan and group-by floors")
    r2 = probes.scan_count(ctx.conn, ctx.repeat)
    rows.append(Row("R2 raw scan", "count(*) over all events", r2["seconds"], "s"))
    r3 = probes.group_by_floor(ctx.conn, ctx.repeat)
    ctx.references["group_by_s"] = r3["seconds"]
    rows.append(Row("R3 raw group-by", "per-profile count(*)", r3["seconds"], "s"))
    ctx.log("probe R5: raw identifier lookup")
    sample = probes.lookup_sample(ctx.spec.seed, ctx.state["persons"], 5_000 if ctx.smoke else 20_000)
    r5 = probes.index_lookup(ctx.conn, sample)
    ctx.references["lookup"] = r5
    ctx.notes["R5"] = r5["what"]
    rows.append(Row("R5 raw identifier lookup", "p50, 1 connection, prepared", r5["p50_ms"], "ms"))
    rows.append(Row("R5 raw identifier lookup", "p99, 1 connection, prepared", r5["p99_ms"], "ms"))
    rows.append(Row("R5 raw identifier lookup", "lookups/s, 1 connection", r5["qps"], "req/s"))
    return rows
