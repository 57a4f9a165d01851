"""Reads: resolving a request's subject to profiles, requests and their figures."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count

from identity.models import Identity
from identity.policy import TYPE_ALIASES, InvalidIdentifier, Policy
from people.models import Person
from privacy.models import PrivacyRequest, Tombstone


class SubjectError(ValueError):
    """A subject identifier that cannot be used (unknown type, invalid value)."""


def normalize_identities(identities: list[dict]) -> list[dict]:
    """``[{"type", "value"}]`` normalized as ingestion normalizes them (aliases such as
    ``customer_id`` → ``user_id``); raises ``SubjectError`` naming the bad entry."""
    if not identities:
        raise SubjectError("Name the subject by at least one identifier.")
    policy = Policy.load()
    out: list[dict] = []
    for position, item in enumerate(identities):
        raw_type = str(item.get("type", "")).strip().lower()
        type_key = TYPE_ALIASES.get(raw_type, raw_type)
        type_policy = policy.get(type_key)
        if type_policy is None:
            raise SubjectError(f"identities[{position}]: unknown identifier type {raw_type!r}.")
        value = item.get("value")
        if not isinstance(value, str):
            raise SubjectError(f"identities[{position}]: the value must be a string.")
        try:
            normalized = type_policy.normalize(value)
        except InvalidIdentifier as exc:
            raise SubjectError(f"identities[{position}]: {exc}.") from None
        entry = {"type": type_key, "value": normalized}
        if entry not in out:
            out.append(entry)
    return out


def parse_identifier(text: str) -> dict:
    """``"email:ann@example.com"`` → ``{"type": "email", "value": "ann@example.com"}``."""
    type_key, sep, value = (text or "").partition(":")
    if not sep or not type_key.strip() or not value.strip():
        raise SubjectError("Write the identifier as type:value, e.g. email:ann@example.com.")
    return {"type": type_key.strip(), "value": value.strip()}


@dataclass(frozen=True)
class Subject:
    root_id: int | None  # the live profile the identifiers resolve to
    person_ids: list[int]  # the root and every profile merged into it, at any depth
    identities: list[tuple[str, str]]  # every identifier of those profiles, plus the ones asked for


def resolve_subject(identities: list[dict]) -> Subject:
    """The profile(s) the identifiers name, climbed to their live roots, with every merged child
    (a few queries per merge level, never one per person)."""
    asked = [(i["type"], i["value"]) for i in identities]
    policy = Policy.load()
    type_ids = {policy.get(t).id: t for t, _ in asked if policy.get(t)}
    direct = set(
        Identity.objects.filter(value__in={v for _, v in asked}, type_id__in=type_ids).values_list(
            "type_id", "value", "person_id"
        )
    )
    start = {pid for type_id, value, pid in direct if (type_ids.get(type_id), value) in set(asked)}
    roots: set[int] = set()
    frontier = start
    seen: set[int] = set()
    while frontier:
        seen |= frontier
        rows = Person.objects.filter(pk__in=frontier).values_list("pk", "merged_into_id")
        frontier = set()
        for pk, parent in rows:
            if parent is None:
                roots.add(pk)
            elif parent not in seen:
                frontier.add(parent)
    person_ids = set(roots)
    frontier = set(roots)
    while frontier:
        frontier = (
            set(Person.objects.filter(merged_into_id__in=frontier).values_list("pk", flat=True)) - person_ids
        )
        person_ids |= frontier
    idents = set(asked)
    idents |= set(Identity.objects.filter(person_id__in=person_ids).values_list("type__key", "value"))
    return Subject(
        root_id=min(roots) if roots else None,
        person_ids=sorted(person_ids),
        identities=sorted(idents),
    )


def tombstone_counts() -> list[dict]:
    return list(
        Tombstone.objects.values("identifier_type").annotate(count=Count("id")).order_by("identifier_type")
    )


def person_requests(*, person_ids: list[int]):
    return PrivacyRequest.objects.filter(person_id__in=person_ids).order_by("received_at")
