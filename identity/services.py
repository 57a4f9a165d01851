"""Writes of the identity app. The ingestion pipeline lives in ``identity.pipeline`` and merges in
``identity.merging``; both are re-exported here, the app's one service surface."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from identity.limits import check_message
from identity.merging import merge_preview, merge_undo, people_merge_manual, person_merge
from identity.models import AccessToken, IdentifierType, Identity, SuppressedIdentifier
from identity.normalize import Rejection, normalize_message
from identity.pipeline import IngestResult, ingest_batch
from identity.policy import InvalidIdentifier, Policy, custom_type_defaults, identifier_types_changed
from identity.resolution import Resolver
from people.models import Channel, Person, Source
from people.services import SourceCredentials, channel_create, source_create

__all__ = [
    "IngestResult",
    "access_token_create",
    "access_token_update",
    "access_tokens_delete",
    "identifier_type_save",
    "identifier_suppress",
    "ingest_batch",
    "ingest_dry_run",
    "merge_preview",
    "merge_undo",
    "people_merge_manual",
    "person_merge",
    "source_create_for_channel",
]


@dataclass(frozen=True)
class IssuedToken:
    token: AccessToken
    raw: str


@transaction.atomic
def access_token_create(*, name: str, created_by=None) -> IssuedToken:
    """A read-only Profile API token; the raw value is returned once and only its hash is kept."""
    raw = AccessToken.new_token()
    token = AccessToken(name=name, created_by=created_by)
    token.token_hash = AccessToken.hash_token(raw)
    token.token_hint = raw[-4:]
    token.full_clean()
    token.save()
    return IssuedToken(token, raw)


@transaction.atomic
def access_token_update(*, token: AccessToken, **fields: Any) -> AccessToken:
    """Rename, enable or disable a token; a disabled token stops working in every process (at once
    in this one; elsewhere see ``identity.api.auth.TOKEN_CACHE_SECONDS``)."""
    for name, value in fields.items():
        setattr(token, name, value)
    token.full_clean()
    token.save()
    _after_commit_forget_tokens()
    return token


@transaction.atomic
def access_tokens_delete(*, tokens: Iterable[AccessToken]) -> int:
    """Delete tokens; they stop working as ``access_token_update`` describes for a disabled one."""
    deleted, _ = AccessToken.objects.filter(pk__in=[t.pk for t in tokens]).delete()
    _after_commit_forget_tokens()
    return deleted


def _after_commit_forget_tokens() -> None:
    from identity.api.auth import forget_cached_tokens

    forget_cached_tokens()  # now, and again after commit (a request in between may cache it again)
    transaction.on_commit(forget_cached_tokens)


@transaction.atomic
def identifier_type_save(*, identifier_type: IdentifierType) -> IdentifierType:
    """Create or change an identifier type (validated); every process's cached policy follows
    (``identity.policy.identifier_types_changed``). Changes apply to future resolution only."""
    identifier_type.full_clean()
    identifier_type.save()
    identifier_types_changed()
    return identifier_type


@transaction.atomic
def source_create_for_channel(
    *, name: str, channel_key: str, protection: str = Source.Protection.CREATE_UPDATE
) -> SourceCredentials:
    """Create the channel if needed, then the source (``manage.py create_source``)."""
    channel = Channel.objects.filter(key=channel_key).first()
    if channel is None:
        channel = channel_create(key=channel_key, name=channel_key.replace("_", " ").title())
    return source_create(name=name, channel=channel, protection=protection)


@transaction.atomic
def identifier_suppress(*, type_key: str, value: str, reason: str = "") -> SuppressedIdentifier:
    """Stop collecting for an identifier: its messages are dropped from now on."""
    policy = Policy.load()
    type_policy = policy.get(type_key)
    if type_policy is None:
        raise ValidationError(f"Unknown identifier type {type_key!r}.")
    try:
        normalised = type_policy.normalize(value)
    except InvalidIdentifier as exc:
        raise ValidationError(str(exc)) from exc
    row, _ = SuppressedIdentifier.objects.get_or_create(
        type_id=type_policy.id, value=normalised, defaults={"reason": reason}
    )
    return row


@dataclass
class DryRun:
    action: str
    identifiers: list[tuple[str, str]] = field(default_factory=list)
    dropped: list[tuple[str, str]] = field(default_factory=list)
    people: list[Person] = field(default_factory=list)
    preview: Any = None
    error: str = ""

    @property
    def summary(self) -> str:
        if self.error:
            return f"Rejected: {self.error}"
        names = ", ".join(str(p.uid) for p in self.people)
        text = {
            "create": "would create a new profile",
            "attach": f"would attach new identifiers to {names}",
            "match": f"would use {names}",
            "merge": f"would merge {names}",
            "drop": "would be dropped (unknown person on an Update/Read Only source)",
        }[self.action]
        if self.dropped:
            text += "; dropped to respect limits: " + ", ".join(f"{k}:{v}" for k, v in self.dropped)
        return f"This message {text}."


def ingest_dry_run(*, source: Source, message: dict) -> DryRun:
    """What ingesting one message would do to identities (nothing is written)."""
    now = timezone.now()
    try:
        check_message(message)
        parsed = normalize_message(message, index=0, received_at=now)
    except Rejection as rejection:
        return DryRun("reject", error=rejection.reason)
    policy = Policy.load()
    idents = []
    for key, raw in parsed.identifiers:
        type_policy = policy.get(key) or policy.add(
            IdentifierType(pk=0, key=key, **custom_type_defaults(key))
        )
        try:
            value = type_policy.normalize(raw)
        except InvalidIdentifier:
            continue
        if not type_policy.is_blocked(value):
            idents.append((type_policy.key, value))
    if parsed.type == "alias" and parsed.previous_id:
        owner_is_user = Identity.objects.filter(type__key="user_id", value=parsed.previous_id).exists()
        idents.append(("user_id" if owner_is_user else "anonymous_id", parsed.previous_id))
    if not idents:
        return DryRun("reject", error="no usable identifier")
    rows = list(
        Identity.objects.filter(value__in={v for _, v in idents}).values_list(
            "type__key", "value", "person_id"
        )
    )
    owner = {(k, v): p for k, v, p in rows if (k, v) in set(idents)}
    people = {p.pk: p for p in Person.objects.filter(pk__in=set(owner.values()))}
    counts: dict = {}
    from collections import Counter

    for person_id, key in Identity.objects.filter(person_id__in=people).values_list("person_id", "type__key"):
        counts.setdefault(person_id, Counter())[key] += 1
    resolver = Resolver(
        priority={key: (p.priority, key) for key, p in policy.by_key.items()},
        limits={key: p.limit for key, p in policy.by_key.items()},
        owner=owner,
        counts=counts,
        age={pk: (0, p.created_at, pk) for pk, p in people.items()},
    )
    outcome = resolver.plan(
        idents,
        at=now,
        message_index=0,
        create=source.protection == Source.Protection.CREATE_UPDATE,
        attach=source.protection != Source.Protection.READ_ONLY,
    )
    involved = [people[ref] for ref in [outcome.person, *outcome.merged] if isinstance(ref, int)]
    preview = merge_preview(people=involved) if outcome.action == "merge" else None
    return DryRun(outcome.action, outcome.used, outcome.dropped, involved, preview)
