"""Event, context and trait checks against the channel's definitions (strict or permissive).

``SchemaChecker.load`` checks against this process's snapshot of the definitions (``people.schema``:
no query while it is current; every change to a definition invalidates it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.dateparse import parse_date, parse_datetime

from identity.normalize import Message, Rejection
from people.attributes import STANDARD_ATTRIBUTES, TRAIT_ALIASES, cast_value
from people.models import (
    AttributeDefinition,
    AttributeType,
    Channel,
    ContextPropertyDefinition,
    EventDefinition,
    EventPropertyDefinition,
)
from people.schema import definitions
from people.services import AttributeWrite, attribute_definition_create

KEY_RE = re.compile(r"^[a-z][a-z0-9_]*$")
# Segment's reserved traits that map onto standard attributes besides TRAIT_ALIASES.
EXTRA_TRAIT_ALIASES = {
    "first_name": "first_name",
    "last_name": "last_name",
    "dateOfBirth": "birth_date",
    "locale": "language",
    "state": "region",
}
ADDRESS_KEYS = {"city": "city", "country": "country", "state": "region", "region": "region"}
SKIPPED_TRAITS = {"id", "userId", "anonymousId"}


def snake_case(raw: str) -> str:
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", raw.strip()).lower()
    return re.sub(r"[^a-z0-9_]+", "_", text).strip("_")[:64]


def infer_type(value: Any) -> str | None:
    """The attribute type a permissive channel gives a trait it has not seen before."""
    if isinstance(value, bool):
        return AttributeType.BOOLEAN
    if isinstance(value, int):
        return AttributeType.INTEGER
    if isinstance(value, float):
        return AttributeType.DECIMAL
    if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
        return AttributeType.LIST
    if isinstance(value, str):
        text = value.strip()
        try:
            if len(text) == 10 and parse_date(text):
                return AttributeType.DATE
            if len(text) > 10 and text[10] == "T" and parse_datetime(text.replace("Z", "+00:00")):
                return AttributeType.DATETIME
        except ValueError:
            pass
        return AttributeType.TEXT
    return None


def _item_schema(items: list[dict]) -> list[dict]:
    fields: dict[str, str] = {}
    for item in items:
        for key, value in item.items():
            kind = infer_type(value)
            if kind in (None, AttributeType.LIST):
                kind = AttributeType.TEXT
            fields.setdefault(key, kind)
    return [{"key": key, "type": kind} for key, kind in fields.items()]


def _get_path(data: dict, dotted: str) -> Any:
    current: Any = data
    for part in dotted.split("."):
        if not isinstance(current, dict) or part not in current:
            return None
        current = current[part]
    return current


@dataclass
class Undefined:
    kind: str
    event_name: str
    key: str
    example: Any


@dataclass
class SchemaChecker:
    channel: Channel
    strict: bool
    events: dict[str, EventDefinition]
    event_properties: dict[str, dict[str, EventPropertyDefinition]]
    context_properties: list[ContextPropertyDefinition]
    attributes: dict[str, AttributeDefinition]
    undefined: list[Undefined] = field(default_factory=list)

    @classmethod
    def load(cls, *, channel: Channel) -> SchemaChecker:
        """A checker for ``channel`` on this process's snapshot of the definitions (no query while
        it is current; ``people.schema``)."""
        current = definitions()
        return cls(
            channel=channel,
            strict=channel.schema_enforcement == Channel.SchemaEnforcement.STRICT,
            events=current.events,
            event_properties=current.event_properties,
            context_properties=current.context_properties.get(channel.pk, []),
            attributes=dict(current.attributes),  # ``_define`` adds to this batch's copy
        )

    # --- events and context -------------------------------------------------------------------

    def check_event(self, message: Message) -> None:
        """Reject or note an event against its definition; casts defined properties in place."""
        if message.type not in ("track", "page", "screen"):
            return
        definition = self.events.get(message.name)
        if definition is None:
            if self.strict:
                raise Rejection(
                    "undefined_event",
                    f"Event '{message.name}' is not defined and channel '{self.channel.key}' is strict.",
                )
            self.undefined.append(Undefined("event", message.name, "", message.properties or None))
            return
        specs = self.event_properties.get(message.name, {})
        cast: dict = {}
        for key, value in message.properties.items():
            spec = specs.get(key)
            if spec is None:
                if self.strict:
                    raise Rejection(
                        "undeclared_property",
                        f"Property '{key}' is not declared for event '{message.name}' (strict channel).",
                    )
                self.undefined.append(Undefined("property", message.name, key, value))
                cast[key] = value
                continue
            cast[key] = self._check_property(spec, value, "invalid_property", f"Property '{key}'")
        for key, spec in specs.items():
            if spec.required and (cast.get(key) is None or cast.get(key) == ""):
                raise Rejection(
                    "missing_property", f"Event '{message.name}' requires property '{key}'; it is missing."
                )
        message.properties = cast

    def check_context(self, message: Message) -> None:
        for spec in self.context_properties:
            value = _get_path(message.context, spec.key)
            if value is None or value == "":
                if spec.required:
                    raise Rejection(
                        "invalid_context",
                        f"Context '{spec.key}' is required on channel '{self.channel.key}'; it is missing.",
                    )
                continue
            self._check_property(spec, value, "invalid_context", f"Context '{spec.key}'")

    @staticmethod
    def _check_property(spec, value: Any, code: str, label: str) -> Any:
        if spec.regex and not isinstance(value, (dict, list)):
            text = str(value).lower() if isinstance(value, bool) else str(value)
            try:
                matched = re.search(spec.regex, text)
            except re.error:
                matched = True
            if not matched:
                raise Rejection(code, f"{label} = {value!r} does not match {spec.regex!r}.")
        try:
            return cast_value(spec.key, spec.type, value)
        except ValidationError as exc:
            raise Rejection(code, f"{label}: {exc.messages[0]}") from exc
        except (OverflowError, ValueError) as exc:  # e.g. a date-time whose offset passes year 9999
            raise Rejection(code, f"{label} is out of range: {exc}.") from exc

    # --- traits -----------------------------------------------------------------------------

    def trait_writes(self, traits: dict, *, unset: list[str] = ()) -> list[AttributeWrite]:
        """Map client traits onto attribute writes; unknown keys: strict rejects, permissive defines.

        Raises ``Rejection`` for an unknown trait on a strict channel or a value of the wrong type.
        """
        values: dict[str, Any] = {}
        for raw_key, value in traits.items():
            if not isinstance(raw_key, str) or raw_key in SKIPPED_TRAITS:
                continue
            if raw_key == "address" and isinstance(value, dict):
                for sub, target in ADDRESS_KEYS.items():
                    if isinstance(value.get(sub), str) and value[sub].strip():
                        values.setdefault(target, value[sub])
                continue
            if raw_key == "name" and isinstance(value, str) and "name" not in self.attributes:
                first, _, last = value.strip().partition(" ")
                if "firstName" not in traits and "first_name" not in traits:
                    values.setdefault("first_name", first)
                if last and "lastName" not in traits and "last_name" not in traits:
                    values.setdefault("last_name", last)
                continue
            key = TRAIT_ALIASES.get(raw_key) or EXTRA_TRAIT_ALIASES.get(raw_key) or snake_case(raw_key)
            if isinstance(value, list) and value and not all(isinstance(i, dict) for i in value):
                value = ", ".join(str(i) for i in value)
            values[key] = value
        writes: list[AttributeWrite] = []
        for key, value in values.items():
            unknown = key not in STANDARD_ATTRIBUTES and key not in self.attributes
            if unknown and not self._define(key, value):
                continue
            writes.append(AttributeWrite(key, value))
        for raw_key in unset:
            key = TRAIT_ALIASES.get(raw_key) or snake_case(str(raw_key))
            if key in STANDARD_ATTRIBUTES or key in self.attributes:
                writes.append(AttributeWrite(key, op="unset"))
        return writes

    def _define(self, key: str, value: Any) -> bool:
        if self.strict:
            raise Rejection(
                "unknown_trait",
                f"Trait '{key}' is not a defined attribute and channel '{self.channel.key}' is strict.",
            )
        kind = infer_type(value)
        if kind is None or not KEY_RE.match(key):
            if value is not None:
                self.undefined.append(Undefined("trait", "", key[:200], value))
            return False
        definition = define_attribute(key=key, type_=kind, example=value)
        if definition is None:
            return False
        self.attributes[key] = definition
        return True


def define_attribute(*, key: str, type_: str, example: Any) -> AttributeDefinition | None:
    """Auto-define a custom attribute first seen on a permissive channel (race-safe)."""
    existing = AttributeDefinition.objects.filter(key=key).first()
    if existing is not None:
        return existing
    label = key.replace("_", " ").capitalize()
    try:
        with transaction.atomic():
            return attribute_definition_create(
                key=key,
                label=label,
                type=type_,
                description="Defined automatically from an incoming trait (permissive channel).",
                item_schema=_item_schema(example) if type_ == AttributeType.LIST else None,
            )
    except (IntegrityError, ValidationError):
        return AttributeDefinition.objects.filter(key=key).first()
