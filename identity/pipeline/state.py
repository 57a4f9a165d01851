"""The values the pipeline's steps hand each other: a request's ``Part``, a ``Prepared`` message, the
``IngestResult`` the caller gets, and the event row the write step inserts."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from identity.normalize import Message
from identity.resolution import Ident
from people.services import AttributeWrite


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    dropped: int = 0
    suppressed: int = 0
    # Messages dropped because a registered message filter blocked one of their identifiers, by reason.
    blocked: Counter = field(default_factory=Counter)
    rejected: list[dict] = field(default_factory=list)
    person_ids: set[int] = field(default_factory=set)
    outcomes: dict[int, str] = field(default_factory=dict)  # message index → resolution action

    def body(self) -> dict:
        """The tracking response body: exactly ``{"success": true}`` plus any rejections."""
        data: dict[str, Any] = {"success": True}
        if self.rejected:
            data["rejected"] = self.rejected
        return data

    def counts(self) -> dict[str, int]:
        """The per-source daily counters this result adds (blocked messages count as suppressed)."""
        return {
            "accepted": self.accepted,
            "rejected": len(self.rejected),
            "dropped": self.dropped,
            "suppressed": self.suppressed + sum(self.blocked.values()),
            "duplicates": self.duplicates,
        }


@dataclass
class Part:
    """One request's messages with its batch-level fields (a stored ``InboundBatch`` is one part)."""

    messages: list[Any]
    received_at: datetime
    sent_at: datetime | None = None
    context: dict | None = None
    integrations: dict | None = None
    path_type: str | None = None
    body_bytes: int | None = None


@dataclass
class Prepared:
    """A message that passed every check, with its normalised identifiers and attribute writes."""

    message: Message
    idents: list[Ident]
    writes: list[AttributeWrite]
    company_writes: list[AttributeWrite]


@dataclass
class Reject:
    """A message for the quarantine."""

    index: int
    raw: Any
    code: str
    reason: str
    received_at: datetime


class Retry(Exception):
    """A concurrent batch changed an identity this one read: roll back and resolve again."""


class EventRow(NamedTuple):
    person_id: int
    type: str
    name: str
    channel_id: int | None
    source_id: int
    timestamp: datetime
    original_timestamp: datetime | None
    sent_at: datetime | None
    received_at: datetime
    properties: dict
    context: dict
    message_id: str


EVENT_COLUMNS = EventRow._fields
EVENT_JSON = ("properties", "context")
IDENTITY_COLUMNS = (
    "type_id",
    "value",
    "person_id",
    "channel_id",
    "source_id",
    "anonymous",
    "first_seen_at",
    "last_seen_at",
    "first_message_id",
)
