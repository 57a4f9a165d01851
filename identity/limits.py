"""What an incoming value may hold: the one place that checks tracking input against PostgreSQL and Python.

A value that PostgreSQL or Python cannot hold must be a rejection, never a crash. The limits:

- text (keys and values, everywhere in a message) holds no NUL character (``text``/``jsonb`` refuse
  it) and no lone UTF-16 surrogate (``"\\ud800"``: it cannot be encoded as UTF-8);
- numbers are finite (``NaN``, ``Infinity`` and ``1e400``, which JSON parsing turns into infinity,
  are not JSON and ``jsonb`` refuses them);
- times lie in ``[MIN_TIME, MAX_TIME)`` (so offsets, clock-skew correction and later date arithmetic
  never leave Python's years 1–9999);
- containers nest at most ``MAX_DEPTH`` levels below the message (the message object is level 1),
  so nothing downstream (JSON encoding, copies, reprs) can hit Python's recursion limit.

``check_message`` raises ``Rejection`` with code ``invalid_text``, ``invalid_number``, ``too_deep`` or
``message_too_large``; ``check_time`` raises ``invalid_timestamp``. ``parse_json`` parses a request body
without recursing deeper than ``BODY_DEPTH`` levels (deeper parts become ``TOO_DEEP``, which fails
the message that holds them). ``storable`` turns any rejected payload into something the quarantine
can store. Pure: no queries.
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any


class Rejection(Exception):
    """One message is not accepted: ``code`` (snake_case) and a human reason."""

    def __init__(self, code: str, reason: str):
        super().__init__(reason)
        self.code = code
        self.reason = reason


MAX_DEPTH = 32
# Request bodies wrap messages in a few levels (``{"batch": [...]}``, mParticle's batches and events).
BODY_DEPTH = 2 * MAX_DEPTH
MIN_TIME = datetime(1900, 1, 1, tzinfo=UTC)
MAX_TIME = datetime(2200, 1, 1, tzinfo=UTC)
# Any offset is under 24 h: a naive time inside these bounds converts to UTC without overflow.
_NAIVE_MIN = MIN_TIME.replace(tzinfo=None) - timedelta(days=1)
_NAIVE_MAX = MAX_TIME.replace(tzinfo=None) + timedelta(days=1)
# What a subtree nested deeper than BODY_DEPTH becomes when a body is parsed (holds a NUL: never stored).
TOO_DEEP = "\x00attune:nested-too-deep"
_SURROGATE = re.compile("[\ud800-\udfff]")
_REPLACEMENT = "\ufffd"


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be stored, or None."""
    if "\x00" in text:
        return "holds a NUL character (\\u0000)"
    if _SURROGATE.search(text):
        return "holds a lone surrogate (\\ud800-\\udfff), which is not valid Unicode"
    return None


def check_text(value: str, label: str) -> None:
    problem = text_problem(value)
    if problem:
        raise Rejection("invalid_text", f"{label} {problem}.")


_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"), default=str)


def check_message(raw: Any, *, max_bytes: int | None = None) -> int:
    """Raise ``Rejection`` when ``raw`` holds anything out of limits; returns its JSON size in bytes.

    One C-speed JSON encoding finds non-finite numbers, NUL and surrogates and measures the size
    (about what measuring the size alone costs); only when it finds something does a walk name the
    path. Depth is walked only when the text holds more than ``MAX_DEPTH`` brackets.
    """
    try:
        text = _ENCODER.encode(raw)
    except ValueError:
        _raise_for(raw)
        raise Rejection("invalid_number", "The message holds a number JSON cannot represent.") from None
    except RecursionError:
        raise Rejection(
            "too_deep", f"The message nests objects or arrays deeper than {MAX_DEPTH} levels."
        ) from None
    if text.count("{") + text.count("[") > MAX_DEPTH and _deeper_than(raw, MAX_DEPTH):
        raise Rejection("too_deep", f"The message nests objects or arrays deeper than {MAX_DEPTH} levels.")
    if "\\u0000" in text:  # json escapes NUL; a literal backslash-u0000 in a string is a false alarm
        _raise_for(raw)
    if text.isascii():
        size = len(text)
    else:
        try:
            size = len(text.encode())
        except UnicodeEncodeError:
            _raise_for(raw)
            raise Rejection("invalid_text", "The message holds text that is not valid Unicode.") from None
    if max_bytes is not None and size > max_bytes:
        raise Rejection("message_too_large", f"The message is larger than {max_bytes} bytes.")
    return size


def check_value(value: Any, label: str) -> None:
    """``check_message`` for a batch-level field (context, integrations) applied to every message."""
    try:
        check_message(value)
    except Rejection as rejection:
        raise Rejection(rejection.code, f"{label}: {rejection.reason}") from None


def _deeper_than(value: Any, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        value, depth = stack.pop()
        if type(value) is dict:
            children = value.values()
        elif type(value) is list or type(value) is tuple:
            children = value
        else:
            continue
        if depth > limit:
            return True
        for child in children:
            if type(child) in (dict, list, tuple):
                stack.append((child, depth + 1))
    return False


def _raise_for(raw: Any) -> None:
    """Find the first value out of limits and raise its rejection with its path."""
    stack: list[tuple[Any, str]] = [(raw, "")]
    while stack:
        value, path = stack.pop()
        if isinstance(value, str):
            if value == TOO_DEEP:
                raise Rejection(
                    "too_deep", f"'{path}' nests objects or arrays deeper than {MAX_DEPTH} levels."
                )
            problem = text_problem(value)
            if problem:
                raise Rejection("invalid_text", f"The value of '{path or '(message)'}' {problem}.")
        elif isinstance(value, float) and not math.isfinite(value):
            raise Rejection(
                "invalid_number",
                f"The value of '{path or '(message)'}' is {value!r}: numbers must be finite "
                "(NaN, Infinity and numbers beyond ±1.8e308 are not accepted).",
            )
        elif isinstance(value, dict):
            for key, child in reversed(value.items()):
                name = str(key)
                if isinstance(key, str):
                    problem = text_problem(key)
                    if problem:
                        raise Rejection("invalid_text", f"A key in '{path or '(message)'}' {problem}.")
                stack.append((child, f"{path}.{name}" if path else name))
        elif isinstance(value, (list, tuple)):
            for position in range(len(value) - 1, -1, -1):
                stack.append((value[position], f"{path}[{position}]"))


def check_time(value: datetime, label: str) -> datetime:
    """``value`` if it lies in the supported range, else ``Rejection("invalid_timestamp")``."""
    naive = value.replace(tzinfo=None)
    if _NAIVE_MIN <= naive <= _NAIVE_MAX and MIN_TIME <= value < MAX_TIME:
        return value
    raise Rejection(
        "invalid_timestamp",
        f"'{label}' is out of the supported range ({MIN_TIME:%Y-%m-%d} to {MAX_TIME:%Y-%m-%d} UTC).",
    )


def in_range(value: datetime) -> bool:
    try:
        check_time(value, "")
    except Rejection:
        return False
    return True


# --- parsing request bodies ------------------------------------------------------------------------

_BRACKET = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')


def parse_json(data: bytes) -> Any:
    """``json.loads`` that never recurses without bound: parts nested deeper than ``BODY_DEPTH``
    (only looked for when Python's parser gives up) are replaced by ``TOO_DEEP``."""
    try:
        return json.loads(data)
    except RecursionError:
        return json.loads(_cut_deep(data, BODY_DEPTH))


def _cut_deep(data: bytes, limit: int) -> bytes:
    """Replace every array or object that opens deeper than ``limit`` by the ``TOO_DEEP`` string."""
    placeholder = json.dumps(TOO_DEEP).encode()
    out: list[bytes] = []
    depth = 0
    cut_from = None  # where the current too-deep part started
    last = 0
    for match in _BRACKET.finditer(data):
        token = match.group()
        if token[:1] == b'"':
            continue
        if token in (b"[", b"{"):
            depth += 1
            if depth > limit and cut_from is None:
                out.append(data[last : match.start()])
                cut_from = match.start()
        else:
            if depth == limit + 1 and cut_from is not None:
                out.append(placeholder)
                cut_from = None
                last = match.end()
            depth -= 1
            if depth < 0:
                break
    if cut_from is not None:  # never closed: let the parser report the broken JSON
        return data[:cut_from] + placeholder
    out.append(data[last:])
    return b"".join(out)


# --- the quarantine ------------------------------------------------------------------------------


def storable(raw: Any, *, max_bytes: int) -> Any:
    """A payload the quarantine can store: bad text replaced (U+FFFD), non-finite numbers as text,
    parts deeper than ``MAX_DEPTH`` cut, and no more than ``max_bytes`` (else a preview)."""
    clean = _sanitize(raw, 1)
    text = json.dumps(clean, separators=(",", ":"), default=str)
    if len(text.encode()) > max_bytes:
        return {"truncated": True, "preview": text[:2000]}
    return clean


def clean_text(value: Any, length: int) -> str:
    """A short text column's value (messageId, type) from anything a client sent."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return ""
    return _clean_str(str(value))[:length]


def _clean_str(value: str) -> str:
    return _SURROGATE.sub(_REPLACEMENT, value.replace("\x00", _REPLACEMENT))


def _sanitize(value: Any, depth: int) -> Any:
    if isinstance(value, str):
        return "[nested too deep]" if value == TOO_DEEP else _clean_str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, (dict, list, tuple)) and depth > MAX_DEPTH:
        return f"[nested deeper than {MAX_DEPTH} levels]"
    if isinstance(value, dict):
        return {_clean_str(str(key)): _sanitize(child, depth + 1) for key, child in value.items()}
    if isinstance(value, (list, tuple)):
        return [_sanitize(child, depth + 1) for child in value]
    return value
