"""The message filter privacy registers with ingestion (``identity.extensions``): ``privacy_filter``.

It gives two verdicts, tombstones first:

- ``tombstone_filter``: identifiers of erased people (their salted hashes are tombstones).
- ``suppression_filter``: every identifier currently attached to a suppressed profile, to its merged
  children or to the profile it was merged into; identifiers attached later are covered because the
  check reads the identities at ingestion time.

On PostgreSQL both are one prepared statement per batch, whatever its size (it runs on every tracking
request, inside the batch's transaction); elsewhere the two filters run one after the other.
"""

from __future__ import annotations

import functools

from django.db import connection
from django.db.models import Q

from identity.models import IdentifierType, Identity
from people import rawsql
from people.models import Person
from privacy import hashing
from privacy.models import Suppression, Tombstone

TOMBSTONED = "tombstoned"
SUPPRESSED = "suppressed"


def tombstone_filter(idents: set[tuple[str, str]]) -> dict[tuple[str, str], str]:
    if not idents:
        return {}
    by_digest = hashing.digests(idents)
    if connection.vendor == "postgresql":
        # One array parameter, bound by the server, instead of a thousand quoted literals.
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT digest FROM {Tombstone._meta.db_table} WHERE digest = ANY(%s)", [list(by_digest)]
            )
            found = [row[0] for row in cursor.fetchall()]
    else:
        found = Tombstone.objects.filter(digest__in=list(by_digest)).values_list("digest", flat=True)
    return {by_digest[d]: TOMBSTONED for d in found}


def suppression_filter(idents: set[tuple[str, str]]) -> dict[tuple[str, str], str]:
    if not idents:
        return {}
    # Most batches meet no suppression at all: one index probe instead of the join below.
    if not Suppression.objects.exists():
        return {}
    values = {value for _, value in idents}
    suppressed = Suppression.objects.values("person_id")
    # The suppressed profiles with their merge relatives (a small set), then the batch's identities on
    # them: the identity value index first, no join fanning out over merged children.
    related = Person.objects.filter(
        Q(id__in=suppressed) | Q(merged_into_id__in=suppressed) | Q(merged_children__id__in=suppressed)
    ).values("id")
    rows = (
        Identity.objects.filter(value__in=values, person_id__in=related)
        .values_list("type__key", "value")
        .distinct()
    )
    return {(type_key, value): SUPPRESSED for type_key, value in rows if (type_key, value) in idents}


def privacy_filter(idents: set[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """Both verdicts, a tombstone before a suppression: ``{(type_key, value): reason}``."""
    if not idents:
        return {}
    if connection.vendor != "postgresql":
        verdict = suppression_filter(idents)
        verdict.update(tombstone_filter(idents))
        return verdict
    by_digest = hashing.digests(idents)
    values = sorted({value for _, value in idents})
    verdict: dict[tuple[str, str], str] = {}
    tombstoned = []
    for digest, type_key, value in rawsql.select_prepared(_combined_sql(), [list(by_digest), values]):
        if digest is not None:
            tombstoned.append(by_digest[digest])
        elif (type_key, value) in idents:
            verdict[(type_key, value)] = SUPPRESSED
    verdict.update(dict.fromkeys(tombstoned, TOMBSTONED))
    return verdict


@functools.cache
def _combined_sql() -> str:
    """Tombstones by digest, then (only while some profile is suppressed) the batch's identifiers
    held by a suppressed profile or its merge relatives: the same rows as the two filters."""
    tombstone = Tombstone._meta.db_table
    suppression = Suppression._meta.db_table
    person = Person._meta.db_table
    identity = Identity._meta.db_table
    types = IdentifierType._meta.db_table
    return (
        f"SELECT digest, NULL, NULL FROM {tombstone} WHERE digest = ANY(%s::varchar[]) "
        f"UNION ALL SELECT NULL, t.key, i.value FROM {identity} i JOIN {types} t ON t.id = i.type_id "
        f"WHERE EXISTS (SELECT 1 FROM {suppression}) AND i.value = ANY(%s::varchar[]) AND i.person_id IN ("
        f"SELECT person_id FROM {suppression} "
        f"UNION SELECT id FROM {person} WHERE merged_into_id IN (SELECT person_id FROM {suppression}) "
        f"UNION SELECT merged_into_id FROM {person} WHERE id IN (SELECT person_id FROM {suppression}) "
        "AND merged_into_id IS NOT NULL)"
    )
