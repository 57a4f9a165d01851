"""Attribute types: the registry of standard attributes and casting of values to their type.

Every write casts its value here first. Values are stored in their JSON form: text as str,
decimal as float, whole number as int, true/false as bool, date as ``YYYY-MM-DD``, date-time as
ISO 8601 in UTC, list as a list of objects whose fields are cast by the item schema.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.dateparse import parse_date, parse_datetime

from people.models import AttributeDefinition, AttributeType, Person

TYPE_LABELS = dict(AttributeType.choices)


class AttributeValueError(ValidationError):
    """A value that does not fit its attribute. The message names attribute, value and type."""

    def __init__(self, key: str, value: Any, expected: str, detail: str = ""):
        shown = repr(value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        message = f"Attribute '{key}' expects {expected}; got {shown}."
        if detail:
            message = f"{message} {detail}"
        super().__init__(message, code="invalid_attribute_value")
        self.key = key
        self.value = value


class UnknownAttributeError(ValidationError):
    def __init__(self, key: str):
        super().__init__(
            f"Unknown attribute '{key}': define it under Attribute definitions first.",
            code="unknown_attribute",
        )
        self.key = key


@dataclass(frozen=True)
class AttributeSpec:
    key: str
    label: str
    type: str
    standard: bool
    item_schema: tuple = ()
    # For standard attributes with a special format ("email", "phone", or a choices tuple).
    format: str = ""
    choices: tuple[str, ...] = ()


# System attributes: kept by ingestion, merges and contacts, never written as attribute values.
SYSTEM_ATTRIBUTES = [
    "created_at",
    "modified_at",
    "first_seen_at",
    "last_activity_at",
    "event_count",
    "session_count",
    "last_contacted_at",
]

# The system attributes ingesting an event moves (with the event itself): what a refresh after
# "only events changed" must still re-read (``people.services.notify_people_changed(events=...)``).
EVENT_MOVED_ATTRIBUTES = frozenset(
    {"first_seen_at", "last_activity_at", "event_count", "session_count", "modified_at"}
)

# The system attribute recording a contact moves (``people.services.contacts_record``, with the
# per-channel times that ``last_contacted`` conditions read): what a refresh after "only a contact"
# must re-read.
CONTACT_MOVED_ATTRIBUTES = frozenset({"last_contacted_at"})

STANDARD_ATTRIBUTES: dict[str, AttributeSpec] = {
    spec.key: spec
    for spec in [
        AttributeSpec("first_name", "First name", AttributeType.TEXT, True),
        AttributeSpec("last_name", "Last name", AttributeType.TEXT, True),
        AttributeSpec("email", "Email", AttributeType.TEXT, True, format="email"),
        AttributeSpec("phone", "Phone", AttributeType.TEXT, True, format="phone"),
        AttributeSpec("gender", "Gender", AttributeType.TEXT, True, choices=tuple(Person.Gender.values)),
        AttributeSpec("birth_date", "Birth date", AttributeType.DATE, True),
        AttributeSpec("city", "City", AttributeType.TEXT, True),
        AttributeSpec("region", "Region", AttributeType.TEXT, True),
        AttributeSpec("country", "Country", AttributeType.TEXT, True),
        AttributeSpec("timezone", "Timezone", AttributeType.TEXT, True),
        AttributeSpec("language", "Language", AttributeType.TEXT, True),
        AttributeSpec("membership_level", "Membership level", AttributeType.TEXT, True),
    ]
}

# Common spellings clients send (Segment's reserved traits) mapped to our standard keys.
TRAIT_ALIASES = {
    "firstName": "first_name",
    "lastName": "last_name",
    "birthday": "birth_date",
    "birthDate": "birth_date",
    "membershipLevel": "membership_level",
}


def attribute_spec(key: str, definitions: dict[str, AttributeDefinition] | None = None) -> AttributeSpec:
    """The spec of a standard or custom attribute; ``UnknownAttributeError`` if there is none."""
    if key in STANDARD_ATTRIBUTES:
        return STANDARD_ATTRIBUTES[key]
    definition = (definitions or {}).get(key) if definitions is not None else None
    if definition is None and definitions is None:
        definition = AttributeDefinition.objects.filter(key=key).first()
    if definition is None:
        raise UnknownAttributeError(key)
    return AttributeSpec(
        definition.key,
        definition.label,
        definition.type,
        False,
        item_schema=tuple(definition.item_schema or ()),
    )


def _expected(spec_type: str) -> str:
    return {
        AttributeType.TEXT: "text",
        AttributeType.DECIMAL: "a decimal number",
        AttributeType.INTEGER: "a whole number",
        AttributeType.BOOLEAN: "true or false",
        AttributeType.DATE: "a date (YYYY-MM-DD)",
        AttributeType.DATETIME: "a date and time (ISO 8601)",
        AttributeType.LIST: "a list of objects",
    }[spec_type]


TRUE_WORDS = {"true", "yes", "1", "y", "t", "on"}
FALSE_WORDS = {"false", "no", "0", "n", "f", "off"}


def cast_value(key: str, type_: str, value: Any, item_schema: tuple | list = ()) -> Any:
    """Cast ``value`` to ``type_``; ``None`` and ``""`` mean empty and return ``None``.

    Raises ``AttributeValueError`` naming the attribute, the value and the expected type.
    """
    if value is None or (isinstance(value, str) and value.strip() == "" and type_ != AttributeType.TEXT):
        return None
    fail = AttributeValueError(key, value, _expected(type_))
    if type_ == AttributeType.TEXT:
        if isinstance(value, (dict, list)):
            raise fail
        if isinstance(value, bool):
            return "true" if value else "false"
        text = value if isinstance(value, str) else str(value)
        return text if text != "" else None
    if type_ == AttributeType.BOOLEAN:
        if isinstance(value, bool):
            return value
        if isinstance(value, (int, float)) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in TRUE_WORDS | FALSE_WORDS:
            return value.strip().lower() in TRUE_WORDS
        raise fail
    if type_ == AttributeType.INTEGER:
        if isinstance(value, bool):
            raise fail
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d+(\.0*)?\s*", value):
            return int(Decimal(value.strip()))
        raise fail
    if type_ == AttributeType.DECIMAL:
        if isinstance(value, bool):
            raise fail
        if isinstance(value, (int, float)):
            try:
                number = float(value)
            except OverflowError as exc:  # an integer past a double's range
                raise fail from exc
        elif isinstance(value, (str, Decimal)):
            try:
                number = float(Decimal(str(value).strip()))
            except InvalidOperation as exc:
                raise fail from exc
        else:
            raise fail
        if math.isnan(number) or math.isinf(number):
            raise fail
        return number
    if type_ == AttributeType.DATE:
        if isinstance(value, datetime):
            return value.date().isoformat()
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, str):
            text = value.strip()
            try:
                parsed = parse_date(text[:10]) if len(text) >= 10 else None
            except ValueError:
                parsed = None
            if parsed is not None and (len(text) == 10 or text[10] in "T "):
                return parsed.isoformat()
        raise fail
    if type_ == AttributeType.DATETIME:
        parsed_dt: datetime | None = None
        if isinstance(value, datetime):
            parsed_dt = value
        elif isinstance(value, str):
            try:
                parsed_dt = parse_datetime(value.strip().replace("Z", "+00:00"))
            except ValueError:
                parsed_dt = None
            if parsed_dt is None:
                try:
                    only_date = parse_date(value.strip())
                except ValueError:
                    only_date = None
                if only_date is not None:
                    parsed_dt = datetime(only_date.year, only_date.month, only_date.day, tzinfo=UTC)
        if parsed_dt is None:
            raise fail
        if parsed_dt.tzinfo is None:
            parsed_dt = parsed_dt.replace(tzinfo=UTC)
        try:
            in_utc = parsed_dt.astimezone(UTC)
        except OverflowError as exc:  # an offset that takes the time past year 1 or 9999
            raise fail from exc
        return in_utc.isoformat().replace("+00:00", "Z")
    if type_ == AttributeType.LIST:
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            raise fail
        fields = {field["key"]: field["type"] for field in item_schema}
        items = []
        for index, item in enumerate(value):
            unknown = sorted(set(item) - set(fields))
            if fields and unknown:
                raise AttributeValueError(
                    key, value, _expected(type_), f"Item {index} has undeclared field '{unknown[0]}'."
                )
            cast_item = {}
            for field_key, field_value in item.items():
                field_type = fields.get(field_key, AttributeType.TEXT)
                cast_item[field_key] = cast_value(f"{key}[{index}].{field_key}", field_type, field_value)
            items.append(cast_item)
        return items
    raise ValueError(f"unknown attribute type {type_!r}")


def cast_attribute(spec: AttributeSpec, value: Any) -> Any:
    """Cast a value for one attribute, with the standard attributes' formats (email, E.164 phone)."""
    cast = cast_value(spec.key, spec.type, value, spec.item_schema)
    if cast is None:
        return None
    if spec.format == "email":
        email = cast.strip().lower()
        try:
            validate_email(email)
        except ValidationError as exc:
            raise AttributeValueError(spec.key, value, "an email address") from exc
        return email
    if spec.format == "phone":
        return normalize_phone(spec.key, cast)
    if spec.choices:
        lowered = cast.strip().lower()
        if lowered not in spec.choices:
            raise AttributeValueError(spec.key, value, "one of " + ", ".join(spec.choices))
        return lowered
    if spec.type == AttributeType.TEXT:
        return cast.strip() or None
    return cast


def normalize_phone(key: str, value: str) -> str:
    """A phone number in E.164 (``+14155550123``); numbers must carry their country code."""
    text = str(value).strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException as exc:
        raise AttributeValueError(key, value, "a phone number with country code (E.164)") from exc
    if not phonenumbers.is_possible_number(number):
        raise AttributeValueError(key, value, "a phone number with country code (E.164)")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def to_python(type_: str, stored: Any) -> Any:
    """A stored JSON value back to a Python value (dates and date-times parsed)."""
    if stored is None:
        return None
    if type_ == AttributeType.DATE and isinstance(stored, str):
        return parse_date(stored)
    if type_ == AttributeType.DATETIME and isinstance(stored, str):
        return parse_datetime(stored.replace("Z", "+00:00"))
    return stored


def read_attribute(person: Person, key: str) -> Any:
    """The stored (JSON-form) value of a standard or custom attribute of a person."""
    if key in STANDARD_ATTRIBUTES:
        value = getattr(person, key)
        if isinstance(value, date):
            return value.isoformat()
        return value or None
    return person.custom.get(key)


def write_attribute(person: Person, key: str, value: Any) -> None:
    """Put an already-cast (JSON-form) value into a person in memory; ``None`` empties it.
    The inverse of ``read_attribute``; the attribute write services and merges decide what to put."""
    if key in STANDARD_ATTRIBUTES:
        if key == "birth_date":
            person.birth_date = date.fromisoformat(value) if value else None
        else:
            setattr(person, key, value or "")
    elif value is None:
        person.custom.pop(key, None)
    else:
        person.custom[key] = value


def is_empty(value: Any) -> bool:
    """An attribute without a value (as ``read_attribute`` returns it)."""
    return value is None or value == "" or value == []


def meta_time(meta: dict | None) -> datetime | None:
    """The event time of the last write of a key (``Person.attribute_meta[key]["at"]``)."""
    return parse_datetime(meta["at"]) if meta and meta.get("at") else None
