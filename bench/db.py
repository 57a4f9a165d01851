"""The bench database: its URL, creation, migration and raw psycopg connections."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

REPO = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/attune_bench"


def database_url() -> str:
    url = os.environ.get("DATABASE_URL") or DEFAULT_URL
    name = urlsplit(url).path.lstrip("/")
    if not url.startswith(("postgres://", "postgresql://")) or "bench" not in name:
        # The harness truncates tables: refuse anything that is not a dedicated bench database.
        raise SystemExit(
            f"bench: DATABASE_URL must name a PostgreSQL database with 'bench' in its name, got {name!r}"
        )
    return url


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def _maintenance_url(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/postgres"))


def connect(url: str, **kwargs) -> psycopg.Connection:
    return psycopg.connect(url, autocommit=True, **kwargs)


def ensure_database(url: str, log=print) -> None:
    name = database_name(url)
    with connect(_maintenance_url(url)) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            log(f"creating database {name}")
            conn.execute(f'CREATE DATABASE "{name}"')
        # The bench's settings that a database may carry (work_mem, jit, …): on any server, its own
        # cluster or not (the server-wide ones, shared_buffers…, only its own cluster can choose).
        from bench import cluster

        for setting, value in cluster.recommended().items():
            if setting in cluster.PER_DATABASE:
                conn.execute(f"ALTER DATABASE \"{name}\" SET {setting} = '{value}'")


def migrate(url: str, log=print) -> None:
    log("migrating (manage.py migrate)")
    env = dict(os.environ, DATABASE_URL=url, DEBUG="1")
    proc = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    if proc.returncode:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit("bench: manage.py migrate failed")


def setup_django(url: str) -> None:
    """Configure Django in this process against the bench database (services, settings)."""
    os.environ["DATABASE_URL"] = url
    # Production settings in-process too: with DEBUG on, Django would log every query.
    os.environ["DEBUG"] = "0"
    os.environ.setdefault("SECRET_KEY", "attune-bench-not-secret")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    import django

    django.setup()


def table_exists(conn: psycopg.Connection, name: str) -> bool:
    return conn.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone()[0]


def columns(conn: psycopg.Connection, table: str) -> list[str]:
    rows = conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = %s ORDER BY ordinal_position",
        (table,),
    ).fetchall()
    return [r[0] for r in rows]


def server_info(conn: psycopg.Connection) -> dict:
    """The server's version and the settings this database's sessions run with (the bench's chosen ones
    and a few more that explain figures)."""
    from bench import cluster

    settings = {name: v["value"] for name, v in cluster.current(conn).items()}
    for name in ("max_connections", "effective_io_concurrency", "huge_pages", "fsync", "full_page_writes"):
        settings[name] = conn.execute(f"SHOW {name}").fetchone()[0]
    version = conn.execute("SHOW server_version").fetchone()[0]
    return {"version": version, "settings": settings}
