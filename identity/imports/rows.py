"""One row of the file → one ``identify`` message of the CSV source, or the reason it is rejected."""

from __future__ import annotations

import re
from datetime import datetime

from django.core.exceptions import ValidationError

from identity.imports.mapping import EVENT, MESSAGE_FIELDS, MESSAGE_ID, TRAIT_IDENTIFIERS, UID, Mapping
from identity.normalize import Rejection, parse_time
from identity.policy import InvalidIdentifier, Policy
from people.models import AttributeDefinition
from people.services import AttributeWrite, validate_attribute_writes

MAX_INTEGER = 2**63 - 1  # what PostgreSQL's bigint (and conditions over it) can hold
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class RowError(Exception):
    """The row is rejected alone, with this reason."""


def time_text(raw: str, column: str) -> str:
    """A time cell as the message's ISO ``timestamp`` (a bare date is midnight UTC)."""
    text = (raw or "").strip()
    if not text:
        raise RowError(f"Column '{column}' has no time for this row.")
    if _DATE_ONLY.match(text):
        text += "T00:00:00+00:00"
    try:
        parse_time(text, column)
    except Rejection as exc:
        raise RowError(exc.reason) from None
    return text


def row_time(values: dict[str, str], mapping: Mapping, default: str) -> str:
    if mapping.time_mode == "column":
        return time_text(values.get(mapping.time_column, ""), mapping.time_column)
    if mapping.time_mode == "fixed":
        return time_text(mapping.fixed_time, "historical date")
    return default


def match_value(values: dict[str, str], mapping: Mapping, policy: Policy) -> str:
    """The row's normalized match-key value; a missing, invalid or blocked value rejects the row."""
    column = mapping.match_column()
    raw = (values.get(column) or "").strip()
    if not raw:
        raise RowError(f"The match key column '{column}' is empty.")
    if mapping.match_key == UID:
        return raw.lower()
    type_policy = policy.get(mapping.match_key)
    if type_policy is None:
        return raw
    try:
        value = type_policy.normalize(raw)
    except InvalidIdentifier as exc:
        raise RowError(f"Column '{column}': {exc}") from None
    if type_policy.is_blocked(value):
        raise RowError(f"Column '{column}': '{raw}' is a blocked {mapping.match_key} value.")
    return value


def build_message(
    values: dict[str, str],
    mapping: Mapping,
    *,
    definitions: dict[str, AttributeDefinition],
    message_id: str,
    timestamp: str,
) -> dict:
    traits: dict = {}
    for column, key in mapping.attribute_columns().items():
        raw = values.get(column, "")
        if raw is None or not raw.strip():
            continue  # an empty cell leaves the value alone
        try:
            ((_, _, value),) = validate_attribute_writes([AttributeWrite(key, raw.strip())], definitions)
        except ValidationError as exc:
            raise RowError(f"Column '{column}': {' '.join(exc.messages)}") from None
        except (OverflowError, ValueError, ArithmeticError) as exc:
            raise RowError(f"Column '{column}': '{raw.strip()[:60]}' cannot be stored ({exc}).") from None
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INTEGER:
            raise RowError(f"Column '{column}': {raw.strip()[:60]} is too large for a whole number.")
        traits[key] = raw.strip()
    message: dict = {"type": "identify", "messageId": message_id, "timestamp": timestamp}
    if mapping.kind == "events":
        name = (values.get(mapping.column_of(EVENT)) or "").strip()
        if not name:
            raise RowError(f"The event name column '{mapping.column_of(EVENT)}' is empty.")
        own_id = (values.get(mapping.column_of(MESSAGE_ID) or "") or "").strip()
        properties = {
            key: values[c] for c, key in mapping.property_columns().items() if values.get(c, "") != ""
        }
        message.update(type="track", event=name, properties=properties, messageId=own_id or message_id)
    external = []
    for column, key in mapping.identifier_columns().items():
        raw = (values.get(column) or "").strip()
        if not raw:
            continue
        if key in MESSAGE_FIELDS:
            message[MESSAGE_FIELDS[key]] = raw
        elif key in TRAIT_IDENTIFIERS:  # also the standard attribute: it must be a valid value
            try:
                validate_attribute_writes([AttributeWrite(key, raw)], definitions)
            except ValidationError as exc:
                raise RowError(f"Column '{column}': {' '.join(exc.messages)}") from None
            traits[key] = raw
        else:
            external.append({"id": raw, "type": key, "collection": "users"})
    if external:
        message["context"] = {"externalIds": external}
    if mapping.kind == "events":  # a track message's email/phone identifiers come from context.traits
        if traits:
            message.setdefault("context", {})["traits"] = traits
        message["traits"] = {}
    else:
        message["traits"] = traits
    return message


def add_identifier(message: dict, key: str, value: str) -> None:
    """Give a message an identifier (used for rows matched by unified id)."""
    if key in MESSAGE_FIELDS:
        message[MESSAGE_FIELDS[key]] = value
    elif key in TRAIT_IDENTIFIERS:
        if message.get("type") == "track":
            message.setdefault("context", {}).setdefault("traits", {}).setdefault(key, value)
        else:
            message["traits"].setdefault(key, value)
    else:
        message.setdefault("context", {}).setdefault("externalIds", []).append(
            {"id": value, "type": key, "collection": "users"}
        )


def parse_row_time(text: str) -> datetime:
    return parse_time(text, "timestamp")
