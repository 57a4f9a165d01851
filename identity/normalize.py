"""Parse and normalise tracking messages (Segment/RudderStack spec) into ``Message`` objects.

Pure: no queries. Every problem with one message raises ``Rejection`` with a code and a reason;
the pipeline quarantines that message and carries on with the rest of the batch.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.utils.dateparse import parse_datetime

from identity.limits import Rejection, check_time

__all__ = ["Rejection", "Message", "normalize_message", "parse_time", "parse_time_lenient"]

MESSAGE_TYPES = ("identify", "track", "page", "screen", "group", "alias")
SHORT_TYPES = {t[0]: t for t in MESSAGE_TYPES}
MAX_MESSAGE_ID = 128
MAX_EVENT_NAME = 200
MAX_IDENTIFIER = 255


@dataclass
class Message:
    index: int
    type: str
    name: str
    message_id: str
    message_id_generated: bool
    user_id: str | None
    anonymous_id: str | None
    traits: dict
    properties: dict
    context: dict
    timestamp: datetime
    original_timestamp: datetime | None
    sent_at: datetime | None
    raw: dict
    group_id: str | None = None
    previous_id: str | None = None
    # (type key, raw value) pairs, in the order found; normalised later against the policy.
    identifiers: list[tuple[str, str]] = field(default_factory=list)
    unset_traits: list[str] = field(default_factory=list)
    # Segment messages need userId or anonymousId; mParticle batches may carry any identity.
    require_user_or_anonymous_id: bool = True
    received_at: datetime | None = None


def parse_time(value: Any, field_name: str) -> datetime | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise Rejection("invalid_timestamp", f"'{field_name}' must be an ISO-8601 string; got {value!r}.")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = parse_datetime(text)
    except ValueError:
        parsed = None
    if parsed is None:
        raise Rejection("invalid_timestamp", f"'{field_name}' is not an ISO-8601 date-time: {value!r}.")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return check_time(parsed, field_name)


def parse_time_lenient(value: Any) -> datetime | None:
    try:
        return parse_time(value, "sentAt")
    except Rejection:
        return None


def as_id(value: Any, field_name: str) -> str | None:
    """userId/anonymousId/groupId/previousId: strings, numbers stringified, null and "" absent."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise Rejection("invalid_field", f"'{field_name}' must be a string; got {type(value).__name__}.")
    if isinstance(value, float):
        value = int(value) if value.is_integer() else repr(value)
    text = str(value).strip()
    if not text:
        return None
    if len(text) > MAX_IDENTIFIER:
        raise Rejection("invalid_field", f"'{field_name}' is longer than {MAX_IDENTIFIER} characters.")
    return text


def as_object(value: Any, field_name: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Rejection("invalid_field", f"'{field_name}' must be an object; got {type(value).__name__}.")
    return value


DEVICE_KEYS = {"id": "id", "advertisingId": "idfa", "token": "push_token"}


def device_identifiers(context: dict) -> list[tuple[str, str]]:
    device = context.get("device")
    if not isinstance(device, dict):
        return []
    platform = str(device.get("type") or "").strip().lower()
    if platform not in {"ios", "android"}:
        return []
    found = []
    for key, suffix in DEVICE_KEYS.items():
        value = device.get(key)
        if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value).strip():
            if suffix == "idfa" and device.get("adTrackingEnabled") is False:
                continue
            found.append((f"{platform}.{suffix}", str(value)))
    return found


EXTERNAL_TYPE_RE = re.compile(r"[^a-z0-9_.]+")


def external_type_key(raw: Any) -> str | None:
    """A context.externalIds type as an identifier type key (``Ios.IDFA`` → ``ios.idfa``)."""
    if not isinstance(raw, str):
        return None
    key = EXTERNAL_TYPE_RE.sub("_", raw.strip().lower()).strip("_.")
    if not key or not key[0].isalpha() or len(key) > 64:
        return None
    return key


def external_identifiers(context: dict) -> list[tuple[str, str]]:
    external = context.get("externalIds")
    if not isinstance(external, list):
        return []
    found = []
    for item in external:
        if not isinstance(item, dict):
            continue
        if item.get("collection") not in (None, "", "users"):
            continue
        key = external_type_key(item.get("type"))
        value = item.get("id")
        if key and isinstance(value, (str, int)) and not isinstance(value, bool):
            found.append((key, str(value)))
    return found


def identify_traits(message: dict, context: dict) -> dict:
    """identify traits = ``context.traits`` ∪ ``traits`` (root traits win on a conflict)."""
    merged: dict = {}
    context_traits = context.get("traits")
    if isinstance(context_traits, dict):
        merged.update(context_traits)
    merged.update(as_object(message.get("traits"), "traits"))
    return merged


def normalize_message(
    raw: Any,
    *,
    index: int,
    received_at: datetime,
    batch_sent_at: datetime | None = None,
    batch_context: dict | None = None,
    batch_integrations: dict | None = None,
    path_type: str | None = None,
) -> Message:
    if not isinstance(raw, dict):
        raise Rejection("invalid_message", "A message must be a JSON object.")
    msg_type = path_type or raw.get("type")
    if isinstance(msg_type, str):
        msg_type = SHORT_TYPES.get(msg_type, msg_type).lower()
    if msg_type not in MESSAGE_TYPES:
        raise Rejection("invalid_type", f"Unknown message type {raw.get('type')!r}.")

    context = dict(batch_context or {})
    context.update(as_object(raw.get("context"), "context"))
    if batch_integrations and "integrations" not in raw:
        raw = {**raw, "integrations": batch_integrations}

    user_id = as_id(raw.get("userId"), "userId")
    anonymous_id = as_id(raw.get("anonymousId"), "anonymousId")

    message_id_raw = raw.get("messageId")
    generated = False
    if message_id_raw is None or message_id_raw == "":
        message_id = f"attune-{uuid.uuid4()}"
        generated = True
    elif isinstance(message_id_raw, (str, int)) and not isinstance(message_id_raw, bool):
        message_id = str(message_id_raw).strip()
        if len(message_id) > MAX_MESSAGE_ID:
            raise Rejection("invalid_message_id", f"'messageId' is longer than {MAX_MESSAGE_ID} characters.")
    else:
        raise Rejection("invalid_message_id", "'messageId' must be a string.")

    original = parse_time(raw.get("timestamp"), "timestamp") or parse_time(
        raw.get("originalTimestamp"), "originalTimestamp"
    )
    sent_at = parse_time(raw.get("sentAt"), "sentAt") or batch_sent_at
    if original is not None and sent_at is not None:
        # Both in range: the difference is at most a few centuries, so this never overflows.
        timestamp = check_time(received_at - (sent_at - original), "timestamp corrected for clock skew")
    else:
        timestamp = original or received_at

    properties: dict = {}
    traits: dict = {}
    name = ""
    group_id = previous_id = None
    unset_traits: list[str] = []
    if msg_type == "track":
        event = raw.get("event")
        if not isinstance(event, str) or not event.strip():
            raise Rejection("missing_event", "A track message needs an 'event' name.")
        name = event.strip()
        properties = as_object(raw.get("properties"), "properties")
    elif msg_type in ("page", "screen"):
        properties = as_object(raw.get("properties"), "properties")
        page_name = raw.get("name")
        if page_name is not None and not isinstance(page_name, str):
            raise Rejection("invalid_field", "'name' must be a string.")
        name = (page_name or "").strip() or ("Page Viewed" if msg_type == "page" else "Screen Viewed")
        category = raw.get("category")
        if isinstance(category, str) and category and "category" not in properties:
            properties = {**properties, "category": category}
    elif msg_type == "identify":
        traits = identify_traits(raw, context)
        unset = raw.get("unsetTraits")
        unset_traits = [str(key) for key in unset] if isinstance(unset, list) else []
        name = "Identify"
    elif msg_type == "group":
        group_id = as_id(raw.get("groupId"), "groupId")
        if group_id is None:
            raise Rejection("missing_group_id", "A group message needs a 'groupId'.")
        traits = as_object(raw.get("traits"), "traits")
        name = "Group"
    elif msg_type == "alias":
        previous_id = as_id(raw.get("previousId"), "previousId")
        if previous_id is None or user_id is None:
            raise Rejection("missing_previous_id", "An alias message needs 'previousId' and 'userId'.")
        name = "Alias"
    if len(name) > MAX_EVENT_NAME:
        raise Rejection("invalid_field", f"The event name is longer than {MAX_EVENT_NAME} characters.")

    identifiers: list[tuple[str, str]] = []
    if user_id:
        identifiers.append(("user_id", user_id))
    if anonymous_id:
        identifiers.append(("anonymous_id", anonymous_id))
    id_traits = traits if msg_type == "identify" else (context.get("traits") or {})
    if isinstance(id_traits, dict):
        for key in ("email", "phone"):
            value = id_traits.get(key)
            if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value).strip():
                identifiers.append((key, str(value)))
    identifiers += device_identifiers(context)
    identifiers += external_identifiers(context)

    return Message(
        index=index,
        type=msg_type,
        name=name,
        message_id=message_id,
        message_id_generated=generated,
        user_id=user_id,
        anonymous_id=anonymous_id,
        traits=traits,
        properties=properties,
        context=context,
        timestamp=timestamp,
        original_timestamp=original,
        sent_at=sent_at,
        raw=raw,
        group_id=group_id,
        previous_id=previous_id,
        identifiers=identifiers,
        unset_traits=unset_traits,
        received_at=received_at,
    )


def message_size(raw: Any) -> int:
    return len(json.dumps(raw, separators=(",", ":"), default=str).encode())
