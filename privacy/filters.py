"""The message filters privacy registers with ingestion (``identity.extensions``).

Both are set-based: one query per batch, whatever its size.

- ``tombstone_filter``: identifiers of erased people (their salted hashes are tombstones).
- ``suppression_filter``: every identifier currently attached to a suppressed profile, to its merged
  children or to the profile it was merged into; identifiers attached later are covered because the
  check reads the identities at ingestion time.
"""

from __future__ import annotations

from django.db import connection
from django.db.models import Q

from identity.models import Identity
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
    """Both verdicts (tombstones first): what the actions API asks through the registry."""
    verdict = suppression_filter(idents)
    verdict.update(tombstone_filter(idents))
    return verdict
