"""Where the bench meets the identity and computed apps: detection, their tables, their APIs.

Everything here is introspection so that a missing app makes its workloads "not available" instead
of failing the run.
"""

from __future__ import annotations

from pathlib import Path

import psycopg


def identity_available() -> bool:
    try:
        from django.apps import apps

        return any(m._meta.db_table for m in apps.get_app_config("identity").get_models())
    except Exception:
        return False


def identity_tables() -> list[str]:
    return []


def before_load(conn: psycopg.Connection) -> None:
    pass


def after_load(conn: psycopg.Connection) -> None:
    pass


def copy_identities(conn: psycopg.Connection, paths: list[Path]) -> int | None:
    return None


def raw_lookup_sql():
    """(sql, params_of(type, value), description) of the raw identifier → profile row lookup."""
    return (
        "SELECT p.* FROM people_person p WHERE p.email = %s",
        lambda t, v: (v,),
        "people_person by email (person_email_idx); identity table not available",
    )
