"""The prepare step: from raw messages to ``Prepared`` ones, everything decided before the transaction.

1. ``precheck`` (no database): the limits of ``identity.limits`` (text, numbers, depth, size), then
   shape, types and times (``identity.normalize``) and userId/anonymousId. The queued accept path
   runs it inside the request.
2. ``prepare_messages``: event, context and trait checks against the channel's definitions
   (``identity.schemas``) and the identifiers normalised by their type's policy.
3. ``drop_filtered`` (inside the write transaction, on every attempt): messages carrying a
   suppressed identifier, or one a registered message filter blocks
   (``identity.extensions.blocked_identifiers``), are dropped: counted, never quarantined.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from identity.extensions import blocked_identifiers
from identity.limits import check_message, check_value
from identity.models import IdentifierType, SuppressedIdentifier
from identity.normalize import Message, Rejection, normalize_message
from identity.pipeline import sql
from identity.pipeline.quarantine import reject
from identity.pipeline.state import IngestResult, Part, Prepared, Reject
from identity.policy import InvalidIdentifier, Policy, custom_type_defaults
from identity.resolution import Ident
from identity.schemas import SchemaChecker
from people.attributes import AttributeValueError, UnknownAttributeError
from people.services import AttributeWrite, validate_attribute_writes


def precheck(
    part: Part, *, require_user_or_anonymous_id: bool = True, offset: int = 0
) -> tuple[list[Message], list[tuple[int, Any, Rejection]]]:
    """The checks that need no database: limits, size, shape, types, times, userId/anonymousId.

    Returns the normalised messages and the rejections as ``(index, raw, rejection)``. Pure.
    Batch-level ``context``/``integrations`` out of limits reject every message of the part.
    """
    max_message = settings.INGEST_MAX_MESSAGE_BYTES
    parsed: list[Message] = []
    rejected: list[tuple[int, Any, Rejection]] = []
    batch_problem = None
    try:
        if part.context:
            check_value(part.context, "The batch context")
        if part.integrations:
            check_value(part.integrations, "The batch integrations")
    except Rejection as rejection:
        batch_problem = rejection
    for position, raw in enumerate(part.messages):
        index = offset + position
        try:
            if batch_problem is not None:
                raise batch_problem
            check_message(raw, max_bytes=max_message)
            message = normalize_message(
                raw,
                index=index,
                received_at=part.received_at,
                batch_sent_at=part.sent_at,
                batch_context=part.context,
                batch_integrations=part.integrations,
                path_type=part.path_type,
            )
            if require_user_or_anonymous_id and not (message.user_id or message.anonymous_id):
                raise Rejection("no_user_anon_id", "A message needs a userId or an anonymousId.")
        except Rejection as rejection:
            rejected.append((index, raw, rejection))
            continue
        parsed.append(message)
    return parsed, rejected


def prepare_messages(
    messages: list[Message],
    checker: SchemaChecker,
    policy: Policy,
    result: IngestResult,
    rejects: list[Reject],
) -> list[Prepared]:
    """Schema checks, attribute writes and identifiers per message; failures go to ``rejects``."""
    prepared: list[Prepared] = []
    for message in messages:
        try:
            checker.check_event(message)
            checker.check_context(message)
            writes: list[AttributeWrite] = []
            company_writes: list[AttributeWrite] = []
            if message.type == "identify" and (message.traits or message.unset_traits):
                writes = checker.trait_writes(message.traits, unset=message.unset_traits)
                _validate_writes(writes, checker)
            elif message.type == "group" and message.traits:
                company_writes = checker.trait_writes(message.traits)
                _validate_writes(company_writes, checker)
            idents = identifiers(message, policy)
        except Rejection as rejection:
            reject(result, rejects, message.index, message.raw, rejection, message.received_at)
            continue
        prepared.append(Prepared(message, idents, writes, company_writes))
    return prepared


def _validate_writes(writes: list[AttributeWrite], checker: SchemaChecker) -> None:
    try:
        validate_attribute_writes(writes, checker.attributes)
    except (AttributeValueError, UnknownAttributeError) as exc:
        raise Rejection("invalid_trait", exc.messages[0]) from exc
    except (OverflowError, ValueError) as exc:  # e.g. a date-time whose offset takes it past year 9999
        key = next((w.key for w in writes if not _castable(w, checker)), "?")
        raise Rejection("invalid_trait", f"Trait '{key}' is out of range: {exc}.") from exc


def _castable(write: AttributeWrite, checker: SchemaChecker) -> bool:
    try:
        validate_attribute_writes([write], checker.attributes)
    except (OverflowError, ValueError):
        return False
    return True


def identifiers(message: Message, policy: Policy) -> list[Ident]:
    """The message's identifiers, normalised by type; blocked values are left out."""
    found: list[Ident] = []
    blocked: list[str] = []
    for key, raw in message.identifiers:
        type_policy = policy.get(key)
        if type_policy is None:
            row, _ = IdentifierType.objects.get_or_create(key=key, defaults=custom_type_defaults(key))
            type_policy = policy.add(row)
        try:
            value = type_policy.normalize(raw)
        except InvalidIdentifier:
            continue
        if type_policy.is_blocked(value):
            blocked.append(f"{type_policy.key}:{value}")
            continue
        found.append((type_policy.key, value))
    if message.type == "alias" and message.previous_id:
        user_ids = [ident for ident in found if ident[0] == "user_id"]
        if not user_ids:
            raise Rejection("blocked_identifier", "The alias userId is blocked or invalid.")
        for key in ("user_id", "anonymous_id"):
            if policy.get(key).is_blocked(message.previous_id):
                raise Rejection("blocked_identifier", f"previousId {message.previous_id!r} is blocked.")
    if not found:
        if blocked:
            raise Rejection(
                "blocked_identifier", "Every identifier of the message is blocked: " + ", ".join(blocked)
            )
        raise Rejection("no_identifier", "The message carries no usable identifier.")
    return found


def _mentioned(item: Prepared) -> list[Ident]:
    """Every identifier a message would link: its own, an alias's previousId, a group's groupId."""
    idents = list(item.idents)
    message = item.message
    if message.type == "alias" and message.previous_id:
        idents += [("user_id", message.previous_id), ("anonymous_id", message.previous_id)]
    if message.type == "group" and message.group_id:
        idents.append(("group_id", message.group_id.strip()))
    return idents


def drop_filtered(prepared: list[Prepared], policy: Policy, result: IngestResult) -> list[Prepared]:
    """Drop messages carrying a suppressed identifier (``result.suppressed``) or one a registered
    message filter blocks (``result.blocked[reason]``); one query and one call per batch."""
    mentioned = {item.message.index: _mentioned(item) for item in prepared}
    idents = {ident for found in mentioned.values() for ident in found}
    if not idents:
        return prepared
    suppressed = _suppressed(idents, policy)
    blocked = blocked_identifiers(idents)
    if not suppressed and not blocked:
        return prepared
    kept = []
    for item in prepared:
        found = mentioned[item.message.index]
        reason = next((blocked[ident] for ident in found if ident in blocked), None)
        if reason is not None:
            result.blocked[reason] += 1
        elif any(ident in suppressed for ident in item.idents):
            result.suppressed += 1
        else:
            kept.append(item)
    return kept


def _suppressed(idents: set[Ident], policy: Policy) -> set[Ident]:
    values = sorted({value for _, value in idents})
    if sql.postgres():
        type_key = {p.id: p.key for p in policy.by_key.values()}
        return {(type_key.get(type_id, "?"), value) for type_id, value in sql.suppressed_rows(values)}
    return set(SuppressedIdentifier.objects.filter(value__in=values).values_list("type__key", "value"))
