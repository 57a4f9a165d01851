"""Where the bench meets the identity and computed apps: detection, their tables, their APIs.

Everything here is introspection so that a missing app makes its workloads "not available" instead
of failing the run.
"""

from __future__ import annotations

from pathlib import Path

import psycopg

from bench import model

# The bench's identifier types → identity's default IdentifierType keys.
IDENTITY_TYPE_KEYS = {
    model.USER_ID: "user_id",
    model.EMAIL: "email",
    model.PHONE: "phone",
    model.ANONYMOUS_ID: "anonymous_id",
    model.DEVICE_ID: "ios.id",
}
IDENTITY_COLUMNS = (
    "type_id",
    "value",
    "person_id",
    "channel_id",
    "source_id",
    "anonymous",
    "first_seen_at",
    "last_seen_at",
    "first_message_id",
)


def _has_model(app: str, name: str) -> bool:
    try:
        from django.apps import apps

        apps.get_model(app, name)
        return True
    except Exception:
        return False


def identity_available() -> bool:
    return _has_model("identity", "Identity")


def identity_tables() -> list[str]:
    return ["identity_identity"] if identity_available() else []


# Tables keyed by person or audience without a database foreign key (bulk-written, partition-friendly):
# TRUNCATE ... CASCADE does not reach them, and RESTART IDENTITY would let new audiences meet the old
# rows of the ids they reuse.
UNCONSTRAINED = (
    "audiences_audience",
    "audiences_audiencemembership",
    "audiences_membershiphistory",
    "privacy_privacyrequest",
)


def before_load(conn: psycopg.Connection) -> None:
    """Truncate what TRUNCATE people_person ... CASCADE does not reach."""
    present = [
        name
        for (name,) in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename = ANY(%s)",
            [list(UNCONSTRAINED)],
        ).fetchall()
    ]
    if present:
        conn.execute(f"TRUNCATE {', '.join(present)} RESTART IDENTITY CASCADE")
    if identity_available():
        conn.execute(
            "TRUNCATE identity_seenmessage, identity_sourcedailystat, identity_seenundefined, "
            "identity_accesstoken RESTART IDENTITY CASCADE"
        )


def after_load(conn: psycopg.Connection) -> None:
    if identity_available():
        conn.execute(
            "SELECT setval(pg_get_serial_sequence('identity_identity', 'id'), "
            "(SELECT coalesce(max(id), 1) FROM identity_identity))"
        )


def copy_identities(conn: psycopg.Connection, paths: list[Path]) -> int | None:
    """COPY the generated identifiers into identity_identity, mapping type names to type ids."""
    if not identity_available():
        return None
    rows = conn.execute("SELECT key, id, anonymous FROM identity_identifiertype").fetchall()
    by_key = {key: (pk, anon) for key, pk, anon in rows}
    mapping = {}
    for ours, theirs in IDENTITY_TYPE_KEYS.items():
        pk, anon = by_key[theirs]
        mapping[ours] = (str(pk), "t" if anon else "f")
    # Source/channel of the first sighting: web (id 1), as the generator's web events.
    n = 0
    sql = f"COPY identity_identity ({', '.join(IDENTITY_COLUMNS)}) FROM STDIN"
    with conn.cursor() as cur, cur.copy(sql) as copy:
        for path in paths:
            out = []
            with open(path) as f:
                for line in f:
                    person, type_, value, seen = line.rstrip("\n").split("\t")
                    pk, anon = mapping[type_]
                    out.append(f"{pk}\t{value}\t{person}\t1\t1\t{anon}\t{seen}\t{seen}\t\n")
            copy.write("".join(out))
            n += len(out)
    return n


def raw_lookup_sql():
    """(sql, params_of(type, value), description) of the raw identifier → profile row lookup."""
    if identity_available():
        from django.db import connection

        with connection.cursor() as cur:
            cur.execute("SELECT key, id FROM identity_identifiertype")
            ids = dict(cur.fetchall())
        return (
            "SELECT p.* FROM identity_identity i JOIN people_person p ON p.id = i.person_id "
            "WHERE i.type_id = %s AND i.value = %s",
            lambda t, v: (ids[IDENTITY_TYPE_KEYS[t]], v),
            "identity_identity (type_id, value) unique index → people_person pk, prepared",
        )
    return (
        "SELECT p.* FROM people_person p WHERE p.email = %s",
        lambda t, v: (v,),
        "people_person by email (person_email_idx); identity table not available",
    )
