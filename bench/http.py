"""HTTP side of the bench: a gunicorn server for the app, and load drivers in several client processes.

The client is a minimal HTTP/1.1 keep-alive client over a raw socket with pre-built request bytes,
so the client processes (which share the machine's cores with the server) stay cheap.
Latency under a fixed rate is measured from each request's *scheduled* send time, so a stalled server
cannot hide its queueing (no coordinated omission).
"""

from __future__ import annotations

import base64
import contextlib
import multiprocessing as mp
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bench.db import REPO
from bench.report import percentile

HOST = "127.0.0.1"
# gunicorn layout on this 2-core machine: 4 workers; DB waits overlap with other requests.
WORKERS = int(os.environ.get("BENCH_GUNICORN_WORKERS", "4"))
THREADS = int(os.environ.get("BENCH_GUNICORN_THREADS", "2"))
# BENCH_SERVER=production (the default): the shipped server, `gunicorn -c config/gunicorn.conf.py`
# (gevent workers, each with its pool of database connections); `gthread`: gthread workers with
# THREADS threads each and persistent connections (CONN_MAX_AGE), the layout of runs before 2026-12.
SERVER = os.environ.get("BENCH_SERVER", "production")


def server_layout() -> str:
    """How the app is served in this run, for the results' header."""
    if SERVER == "production":
        return f"gunicorn -c config/gunicorn.conf.py: {WORKERS} gevent workers, pooled connections"
    return f"gunicorn gthread: {WORKERS} workers x {THREADS} threads, persistent connections"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def app_env(url: str, **extra: str) -> dict:
    """The environment of the app's processes (gunicorn, qcluster): production settings, this database."""
    return dict(
        os.environ,
        DATABASE_URL=url,
        DEBUG="0",
        SECRET_KEY="attune-bench-not-secret",
        LOG_LEVEL="WARNING",
        CONN_MAX_AGE="600",
        DJANGO_SETTINGS_MODULE="bench.settings",
        **extra,
    )


def stop(proc: subprocess.Popen | None) -> None:
    """SIGTERM, then SIGKILL after 30 s."""
    if proc and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass
class Server:
    """gunicorn serving config.wsgi with production settings (DEBUG off) against the bench database."""

    url: str
    workers: int = 4
    threads: int = 1
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None
    log_path: Path = Path("/tmp/attune-bench-gunicorn.log")
    extra_env: dict = field(default_factory=dict)

    def __enter__(self) -> Server:
        env = app_env(self.url, ALLOWED_HOSTS="127.0.0.1,localhost", **self.extra_env)
        cmd = [sys.executable, "-m", "gunicorn"]
        if SERVER == "production":
            self.threads = 1
            env.pop("CONN_MAX_AGE")  # the config's own choice: pooled connections
            env.update(WEB_CONCURRENCY=str(self.workers), GUNICORN_BIND=f"{HOST}:{self.port}")
            env["GUNICORN_ACCESS_LOG"] = ""
            cmd += ["-c", "config/gunicorn.conf.py", "config.wsgi:application"]
        else:
            cmd += ["config.wsgi:application", "--bind", f"{HOST}:{self.port}", "--worker-class", "gthread"]
            cmd += ["--workers", str(self.workers), "--threads", str(self.threads)]
        cmd += ["--keep-alive", "30", "--backlog", "2048", "--timeout", "120", "--log-level", "warning"]
        self._log = open(self.log_path, "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=self._log, stderr=self._log)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}; see {self.log_path}")
            try:
                c = Client(self.port)
                c.request(b"GET /__bench_ping HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                c.close()
                break
            except OSError:
                time.sleep(0.2)
        else:
            raise RuntimeError("gunicorn did not start in 60 s")
        # Warm every worker (imports, URL resolver, first DB connection).
        warm = Client(self.port)
        for _ in range(self.workers * self.threads * 4):
            warm.request(b"GET /__bench_ping HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        warm.close()
        return self

    def __exit__(self, *exc) -> None:
        stop(self.proc)
        self._log.close()

    def worker_pids(self) -> list[int]:
        out = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True).stdout
        return [int(x) for x in out.split()]


def basic_auth(user: str, password: str = "") -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def build_request(method: str, path: str, body: bytes = b"", headers: dict | None = None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    for k, v in (headers or {}).items():
        lines.append(f"{k}: {v}")
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class Client:
    def __init__(self, port: int):
        self.port = port
        self.sock: socket.socket | None = None
        self.buf = b""

    def connect(self) -> None:
        self.sock = socket.create_connection((HOST, self.port), timeout=120)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def close(self) -> None:
        if self.sock:
            self.sock.close()
        self.sock = None

    def request(self, data: bytes) -> tuple[int, bytes]:
        for attempt in (0, 1):
            if self.sock is None:
                self.connect()
            try:
                self.sock.sendall(data)
                return self._response()
            except (ConnectionError, BrokenPipeError):
                self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def _response(self) -> tuple[int, bytes]:
        buf = self.buf
        while (end := buf.find(b"\r\n\r\n")) < 0:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            buf += chunk
        head = buf[:end].decode("latin-1")
        status = int(head[9:12])
        length = 0
        close = False
        for line in head.split("\r\n")[1:]:
            name, _, value = line.partition(":")
            name = name.lower()
            if name == "content-length":
                length = int(value)
            elif name == "connection" and value.strip().lower() == "close":
                close = True
        rest = buf[end + 4 :]
        while len(rest) < length:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed mid-body")
            rest += chunk
        body, self.buf = rest[:length], rest[length:]
        if close:
            self.close()
        return status, body


# --- load drivers ----------------------------------------------------------------------------------


@dataclass
class LoadResult:
    latencies: list[float]  # seconds
    statuses: Counter
    started: float
    finished: float
    sent: int
    units: int  # e.g. events inside the successful requests
    errors: list[str]

    @property
    def seconds(self) -> float:
        return max(1e-9, self.finished - self.started)

    @property
    def rate(self) -> float:
        return self.sent / self.seconds

    def p(self, q: float) -> float:
        return percentile(self.latencies, q) * 1000


_REQUESTS: list = []  # set before forking: [(bytes, units)] per client process


def _worker(port: int, k: int, start_at: float, plan: tuple, ok: tuple, q) -> None:
    """Client process ``k``: its requests on one keep-alive connection.

    ``plan`` is ``("closed", deadline, loop)``: back to back until the list ends (or, with ``loop``, until
    the deadline); or ``("open", interval, count)``: ``count`` requests, one every ``interval`` seconds,
    each request's latency counted from its scheduled send time."""
    reqs = _REQUESTS[k]
    c = Client(port)
    lat, st, errors = [], Counter(), []
    units = sent = 0
    kind = plan[0]
    if kind == "open":
        _, interval, count = plan
        deadline = float("inf")
    else:
        _, deadline, loop = plan
        interval, count = 0.0, float("inf") if loop else len(reqs)
    while time.time() < start_at:
        time.sleep(0.0005)
    t_first = t_sched = time.time() if kind == "closed" else start_at
    i = 0
    while i < count and time.time() < deadline:
        if kind == "open":
            now = time.time()
            if t_sched > now:
                time.sleep(t_sched - now)
        else:
            t_sched = time.time()
        data, n = reqs[i % len(reqs)]
        try:
            status, body = c.request(data)
        except OSError as exc:
            errors.append(repr(exc))
            status, body = 0, b""
        lat.append(time.time() - t_sched)  # open loop: from the scheduled time, so queueing counts
        st[status] += 1
        sent += 1
        if status in ok:
            units += n
        elif len(errors) < 5:
            errors.append(f"{status}: {body[:300]!r}")
        t_sched += interval
        i += 1
    q.put((lat, st, t_first, time.time(), sent, units, errors))
    c.close()


def _run(port: int, per_client: list, plans: list[tuple[float, tuple]], ok: tuple) -> LoadResult:
    """Fork one client process per request list (``plans``: its start time and plan), gather results."""
    global _REQUESTS
    _REQUESTS = per_client
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    procs = [
        ctx.Process(target=_worker, args=(port, k, start_at, plan, ok, q))
        for k, (start_at, plan) in enumerate(plans)
    ]
    for p in procs:
        p.start()
    parts = [q.get() for _ in procs]
    for p in procs:
        p.join()
    lat, st, errors = [], Counter(), []
    for part in parts:
        lat += part[0]
        st.update(part[1])
        errors += part[6]
    return LoadResult(
        latencies=lat,
        statuses=st,
        started=min(p[2] for p in parts),
        finished=max(p[3] for p in parts),
        sent=sum(p[4] for p in parts),
        units=sum(p[5] for p in parts),
        errors=errors[:10],
    )


def closed_loop(
    port: int, per_client: list[list[tuple[bytes, int]]], *, seconds: float | None = None, ok=(200,)
) -> LoadResult:
    """Each client process sends its requests back to back on one keep-alive connection.

    With ``seconds``, clients loop over their requests until the time is up; else each sends its list once.
    """
    start_at = time.time() + 0.3
    plan = ("closed", start_at + seconds if seconds else float("inf"), bool(seconds))
    return _run(port, per_client, [(start_at, plan)] * len(per_client), ok)


def open_loop(
    port: int, per_client: list[list[tuple[bytes, int]]], *, rate: float, seconds: float, ok=(200,)
) -> LoadResult:
    """A fixed total request rate spread over the client processes, each on one keep-alive connection
    (the processes are staggered inside one interval)."""
    n = len(per_client)
    start_at = time.time() + 0.3
    plan = ("open", n / rate, int(seconds * rate / n))
    return _run(port, per_client, [(start_at + k / rate, plan) for k in range(n)], ok)


# --- a workload's server and load -------------------------------------------------------------------


@contextlib.contextmanager
def served(ctx, *, mode: str = "", qcluster: int = 0) -> Iterator[Server]:
    """gunicorn serving the app on the bench database (and ``qcluster`` django-q2 workers when asked),
    in ingest ``mode`` when given; stopped on exit."""
    env = {"BENCH_INGEST_MODE": mode} if mode else {}
    with contextlib.ExitStack() as stack:
        srv = stack.enter_context(Server(ctx.url, workers=WORKERS, threads=THREADS, extra_env=env))
        if qcluster:
            dropped = empty_backlog()
            if any(dropped.values()):
                ctx.log(f"  workers start from an empty backlog; dropped {dropped}")
            stack.enter_context(Workers(ctx.url, workers=qcluster, extra_env=env))
        yield srv


def empty_backlog() -> dict[str, int]:
    """Drop the queued tasks and pending refreshes that earlier, in-process workloads left with no
    worker running (in production the workers run all along and keep up as changes come): workers a
    workload starts must measure that workload's own work, not hours of someone else's."""
    from django_q.brokers import get_broker

    from people.models import PendingChange

    broker = get_broker()
    queued = broker.queue_size() or 0
    broker.purge_queue()
    pending, _ = PendingChange.objects.all().delete()
    return {"queued tasks": queued, "pending refreshes": pending}


def drive(
    ctx,
    srv: Server,
    reqs: list[tuple[bytes, int]],
    *,
    clients: int,
    rate: float | None = None,
    seconds: float | None = None,
    cpu: str = "",
) -> LoadResult:
    """``reqs`` dealt over ``clients`` processes: open loop at ``rate`` requests/s for ``seconds``, or
    closed loop (each list once, or looped for ``seconds``). With ``cpu``, the app's and the database's
    CPU per request go to ``ctx.notes[cpu]``. Errors are logged."""
    per_client = [reqs[k::clients] for k in range(clients)]

    def go() -> LoadResult:
        if rate:
            return open_loop(srv.port, per_client, rate=rate, seconds=seconds)
        return closed_loop(srv.port, per_client, seconds=seconds)

    if cpu:
        with CpuMeter(srv, ctx.conn) as meter:
            res = go()
        ctx.notes.setdefault(cpu, []).append(meter.per_request_ms(res.sent))
        ctx.log(f"  cpu per request: {ctx.notes[cpu][-1]}")
    else:
        res = go()
    if res.errors:
        ctx.log(f"  errors: {res.errors[:2]}")
    return res


# --- where the CPU goes ----------------------------------------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK")


def _cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICK
    except (OSError, IndexError, ValueError):
        return 0.0


class CpuMeter:
    """CPU seconds spent by the gunicorn workers and by this database's PostgreSQL backends, and a
    sampled profile of what the busy backends were doing (running, or waiting on a lock, on I/O...)."""

    def __init__(self, server: Server, conn):
        self.server, self.conn = server, conn
        self.waits: Counter = Counter()
        self._stop = threading.Event()

    def _sample(self) -> None:
        import psycopg

        with psycopg.connect(self.conn.info.dsn, autocommit=True) as c:
            while not self._stop.wait(0.02):
                for wtype, event in c.execute(
                    "SELECT wait_event_type, wait_event FROM pg_stat_activity "
                    "WHERE datname = current_database() AND state = 'active' AND pid <> pg_backend_pid()"
                ).fetchall():
                    self.waits[f"{wtype}:{event}" if wtype else "CPU (running)"] += 1

    def _db_pids(self) -> list[int]:
        rows = self.conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
        return [r[0] for r in rows]

    def snapshot(self) -> dict[str, dict[int, float]]:
        return {
            "app": {p: _cpu(p) for p in self.server.worker_pids()},
            "db": {p: _cpu(p) for p in self._db_pids()},
        }

    def __enter__(self) -> CpuMeter:
        self.before = self.snapshot()
        self.t0 = time.time()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        after = self.snapshot()
        self.wall = time.time() - self.t0
        self.used = {
            k: sum(v - self.before[k].get(p, 0.0) for p, v in after[k].items()) for k in ("app", "db")
        }

    def per_request_ms(self, requests: int) -> dict[str, float]:
        n = max(1, requests)
        total = max(1, sum(self.waits.values()))
        return (
            {f"{k}_cpu_ms": round(v * 1000 / n, 2) for k, v in self.used.items()}
            | {f"{k}_cores": round(v / self.wall, 2) for k, v in self.used.items()}
            | {"db_active_samples": {k: round(v / total, 2) for k, v in self.waits.most_common(5)}}
        )


class Workers:
    """``manage.py qcluster`` against the bench database, for work the web requests enqueue."""

    def __init__(self, url: str, workers: int = 2, extra_env: dict | None = None):
        self.url, self.workers, self.extra_env = url, workers, extra_env or {}
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> Workers:
        env = app_env(self.url, Q_WORKERS=str(self.workers), **self.extra_env)
        self._log = open("/tmp/attune-bench-qcluster.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"], cwd=REPO, env=env, stdout=self._log, stderr=self._log
        )
        time.sleep(2)
        if self.proc.poll() is not None:
            raise RuntimeError("qcluster exited at start; see /tmp/attune-bench-qcluster.log")
        return self

    def __exit__(self, *exc) -> None:
        stop(self.proc)
        self._log.close()
