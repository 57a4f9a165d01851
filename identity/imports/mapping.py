"""What an import does with each column, how rows find people, and the rows' time."""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, field

from django.core.exceptions import ValidationError

from identity.normalize import external_type_key
from people.attributes import STANDARD_ATTRIBUTES
from people.models import AttributeDefinition, AttributeType

IGNORE = "ignore"
UID = "uid"
EVENT = "event"  # events import: the column holding the event name
MESSAGE_ID = "message_id"  # events import: an optional message id (dedupe)
PROPERTY = "property"  # events import: an event property keyed after the column
KINDS = {"people": "People (attributes and identifiers)", "events": "Historical events"}
WRITE_MODES = {
    "create_update": "Create and update",
    "update_only": "Update only (rows of unknown people are rejected)",
    "create_only": "Create only (rows of known people are rejected)",
}
TIME_MODES = {
    "now": "Now (the import's start)",
    "column": "A column of the file",
    "fixed": "Historical: one date for every row",
}
# Identifier types that have their own message field; any other goes to context.externalIds.
MESSAGE_FIELDS = {"user_id": "userId", "anonymous_id": "anonymousId"}
TRAIT_IDENTIFIERS = {"email", "phone"}
_KEY_RE = re.compile(r"[^a-z0-9]+")


def column_key(header: str) -> str:
    """A new custom attribute's key from a column name (``Loyalty tier`` → ``loyalty_tier``)."""
    key = _KEY_RE.sub("_", header.strip().lower()).strip("_")
    return key if key and key[0].isalpha() else f"c_{key}"


def headers_key(headers: list[str]) -> str:
    """The same headers (any case and order) remember the same mapping."""
    joined = "\x1f".join(sorted(h.strip().lower() for h in headers))
    return hashlib.sha256(joined.encode()).hexdigest()[:32]


@dataclass
class Mapping:
    """``columns``: header → ``ignore`` | ``uid`` | ``attr:<key>`` | ``id:<identifier type>`` |
    ``new:<attribute type>`` (a new custom attribute keyed after the column)."""

    columns: dict[str, str]
    kind: str = "people"  # or "events": each row is a tracked event (``track``)
    match_key: str = "email"  # an identifier type key, or "uid"
    write_mode: str = "create_update"
    time_mode: str = "now"
    time_column: str = ""
    fixed_time: str = ""  # ISO date or date-time when time_mode == "fixed"
    new_keys: dict[str, str] = field(default_factory=dict)  # filled by ``check``: column → new key

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Mapping:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)

    def identifier_columns(self) -> dict[str, str]:
        return {c: t[3:] for c, t in self.columns.items() if t.startswith("id:")}

    def attribute_columns(self) -> dict[str, str]:
        out = {c: t[5:] for c, t in self.columns.items() if t.startswith("attr:")}
        out.update(
            {
                c: self.new_keys.get(c) or column_key(c)
                for c, t in self.columns.items()
                if t.startswith("new:")
            }
        )
        return out

    def property_columns(self) -> dict[str, str]:
        return {c: column_key(c) for c, t in self.columns.items() if t == PROPERTY}

    def column_of(self, target: str) -> str | None:
        return next((c for c, t in self.columns.items() if t == target), None)

    def match_column(self) -> str | None:
        for column, target in self.columns.items():
            if (self.match_key == UID and target == UID) or target == f"id:{self.match_key}":
                return column
        return None

    def check(self, headers: list[str]) -> None:
        """Refuse a mapping that cannot run, every problem named with its column."""
        problems = []
        definitions = set(AttributeDefinition.objects.values_list("key", flat=True))
        unknown = [h for h in headers if h not in self.columns]
        if unknown:
            problems.append("Choose what to do with column(s) " + ", ".join(f"'{h}'" for h in unknown) + ".")
        targets: dict[str, str] = {}
        for column, target in self.columns.items():
            if column not in headers:
                problems.append(f"Column '{column}' is not in the file.")
                continue
            if target in (IGNORE, UID):
                pass
            elif target in (EVENT, MESSAGE_ID, PROPERTY):
                if self.kind != "events":
                    problems.append(f"Column '{column}': events columns need the kind 'Historical events'.")
            elif target.startswith("attr:"):
                key = target[5:]
                if key not in STANDARD_ATTRIBUTES and key not in definitions:
                    problems.append(f"Column '{column}': there is no attribute '{key}'.")
            elif target.startswith("id:"):
                if external_type_key(target[3:]) != target[3:]:
                    problems.append(f"Column '{column}': '{target[3:]}' is not a valid identifier type key.")
            elif target.startswith("new:"):
                if target[4:] not in AttributeType.values or target[4:] == AttributeType.LIST:
                    problems.append(f"Column '{column}': choose the new attribute's type.")
                key = column_key(column)
                if key in STANDARD_ATTRIBUTES or key in definitions:
                    problems.append(f"Column '{column}': an attribute '{key}' exists already; map to it.")
                self.new_keys[column] = key
            else:
                problems.append(f"Column '{column}': unknown choice '{target}'.")
            if self.kind == "events" and target.startswith(("attr:", "new:")):
                problems.append(
                    f"Column '{column}': an events import writes event properties, not attributes."
                )
            if target not in (IGNORE, PROPERTY):
                if target in targets:
                    problems.append(f"Columns '{targets[target]}' and '{column}' both map to {target}.")
                targets[target] = column
        if self.kind not in KINDS:
            problems.append(f"Unknown import kind '{self.kind}'.")
        if self.kind == "events" and self.column_of(EVENT) is None:
            problems.append("Choose the column that holds the event name.")
        if self.write_mode not in WRITE_MODES:
            problems.append(f"Unknown write mode '{self.write_mode}'.")
        if self.match_column() is None:
            problems.append(f"No column is mapped to the match key '{self.match_key}'.")
        if self.time_mode == "column" and self.time_column not in headers:
            problems.append("Choose the column that holds each row's time.")
        elif self.time_mode == "fixed" and not self.fixed_time:
            problems.append("Give the date the rows are from.")
        elif self.time_mode not in TIME_MODES:
            problems.append(f"Unknown row time '{self.time_mode}'.")
        if problems:
            raise ValidationError(problems)


def guess_target(header: str, identifier_keys: set[str]) -> str:
    """A first guess for a column with no remembered mapping."""
    name = header.strip().lower()
    key = column_key(header)
    if name in ("id", "uid", "unified_id", "unified id"):
        return UID
    if key in identifier_keys:
        return f"id:{key}"
    if key in STANDARD_ATTRIBUTES or AttributeDefinition.objects.filter(key=key).exists():
        return f"attr:{key}"
    return IGNORE
