"""Members as CSV: chosen columns, plus a column of SHA-256 hashes of normalized emails (what ad
platforms take). Streamed in primary-key batches (keyset, never OFFSET): one query for the batch's
people with every chosen attribute annotated, one for their identifiers."""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator
from typing import Any

from django.core.exceptions import ValidationError

from audiences.models import Audience, AudienceMembership
from identity.imports.export import FORMULA_START
from identity.models import Identity
from people import conditions
from people.conditions.attributes import provider_of
from people.models import Person

BATCH = 2000
FIXED = ("uid", "person_id", "entered_at", "email_sha256")
IDENTIFIER_PREFIX = "identifier:"


def sha256_email(email: str) -> str:
    normalized = (email or "").strip().lower()
    return hashlib.sha256(normalized.encode()).hexdigest() if normalized else ""


def check_columns(columns: list[str]) -> list[str]:
    """The columns, each known: fixed ones, ``identifier:<type>`` or an attribute key."""
    problems = []
    for i, column in enumerate(columns):
        if column in FIXED or column.startswith(IDENTIFIER_PREFIX) and len(column) > len(IDENTIFIER_PREFIX):
            continue
        if conditions.resolve(column) is None:
            problems.append(f"columns[{i}]: unknown column {column!r}")
    if not columns:
        problems.append("columns: choose at least one column")
    if problems:
        raise ValidationError({"columns": problems})
    return columns


class _Echo:
    def write(self, value: str) -> str:
        return value


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return _safe(value) if isinstance(value, str) else value


def _safe(text: str) -> str:
    """Text a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@`` …) is prefixed with ``'``."""
    return "'" + text if text.startswith(FORMULA_START) else text


def rows(audience: Audience, columns: list[str]) -> Iterator[list[Any]]:
    refs = {
        c: conditions.resolve(c) for c in columns if c not in FIXED and not c.startswith(IDENTIFIER_PREFIX)
    }
    annotations = {f"_a{i}": provider_of(ref).expression(ref) for i, ref in enumerate(refs.values())}
    names = dict(zip(refs, annotations, strict=True))
    id_types = {c.removeprefix(IDENTIFIER_PREFIX) for c in columns if c.startswith(IDENTIFIER_PREFIX)}
    yield columns
    last = 0
    while True:
        batch = list(
            AudienceMembership.objects.filter(
                audience_id=audience.pk, version=audience.version, person_id__gt=last
            )
            .order_by("person_id")
            .values_list("person_id", "entered_at")[:BATCH]
        )
        if not batch:
            return
        last = batch[-1][0]
        ids = [p for p, _ in batch]
        people = {p.pk: p for p in Person.objects.filter(pk__in=ids).annotate(**annotations)}
        idents: dict[tuple[int, str], list[str]] = {}
        if id_types:
            for pid, type_key, value in Identity.objects.filter(
                person_id__in=ids, type__key__in=id_types
            ).values_list("person_id", "type__key", "value"):
                idents.setdefault((pid, type_key), []).append(value)
        for pid, entered_at in batch:
            person = people.get(pid)
            if person is None:
                continue
            out = []
            for column in columns:
                if column == "uid":
                    out.append(str(person.uid))
                elif column == "person_id":
                    out.append(pid)
                elif column == "entered_at":
                    out.append(entered_at.isoformat())
                elif column == "email_sha256":
                    out.append(sha256_email(person.email))
                elif column.startswith(IDENTIFIER_PREFIX):
                    out.append(
                        _safe(" ".join(sorted(idents.get((pid, column.removeprefix(IDENTIFIER_PREFIX)), []))))
                    )
                else:
                    out.append(_cell(getattr(person, names[column])))
            yield out


def stream_csv(audience: Audience, columns: list[str]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    for row in rows(audience, columns):
        yield writer.writerow(row)
