"""Reading tracking request bodies: any Content-Type, gzip or deflate, bounded decompression."""

from __future__ import annotations

import json
import zlib
from typing import Any

from django.conf import settings
from rest_framework.parsers import BaseParser


class BodyError(Exception):
    """A request-level problem: answered ``400 {"code", "message"}`` and nothing is stored."""

    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def _inflate(data: bytes, wbits: int, limit: int) -> bytes:
    decompressor = zlib.decompressobj(wbits)
    try:
        out = decompressor.decompress(data, limit + 1)
    except zlib.error as exc:
        raise BodyError("invalid_encoding", f"The body could not be decompressed: {exc}.") from exc
    if len(out) > limit or decompressor.unconsumed_tail:
        raise BodyError(
            "payload_too_large", f"The decompressed body is larger than {limit} bytes; nothing was stored."
        )
    if not decompressor.eof:
        raise BodyError("invalid_encoding", "The compressed body is truncated.")
    return out


def read_body(request) -> tuple[Any, int]:
    """The parsed JSON body and its decompressed size; cached on the request.

    Reads at most ``INGEST_MAX_BODY_BYTES`` (+1 to notice more) from the wire and never inflates
    beyond it, so neither an oversize body nor a gzip bomb costs more than the limit in memory.
    """
    django_request = getattr(request, "_request", request)
    cached = getattr(django_request, "_attune_body", None)
    if cached is not None:
        return cached
    limit = settings.INGEST_MAX_BODY_BYTES
    length = django_request.META.get("CONTENT_LENGTH") or ""
    if length.isdigit() and int(length) > limit:
        raise BodyError("payload_too_large", f"The body is larger than {limit} bytes; nothing was stored.")
    data = django_request.read(limit + 1)
    if len(data) > limit:
        raise BodyError("payload_too_large", f"The body is larger than {limit} bytes; nothing was stored.")
    encoding = (django_request.META.get("HTTP_CONTENT_ENCODING") or "").strip().lower()
    if encoding in ("gzip", "x-gzip") or data[:2] == b"\x1f\x8b":
        data = _inflate(data, 16 + zlib.MAX_WBITS, limit)
    elif encoding == "deflate":
        data = _inflate(data, zlib.MAX_WBITS, limit)
    elif encoding not in ("", "identity"):
        raise BodyError("invalid_encoding", f"Unsupported Content-Encoding {encoding!r}.")
    if not data.strip():
        raise BodyError("invalid_json", "The body is empty.")
    try:
        parsed = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BodyError("invalid_json", f"The body is not valid JSON: {exc}.") from exc
    django_request._attune_body = (parsed, len(data))
    return parsed, len(data)


class AnyContentParser(BaseParser):
    """Documents that tracking endpoints take JSON under any Content-Type (views use read_body)."""

    media_type = "*/*"

    def parse(self, stream, media_type=None, parser_context=None):
        return read_body(parser_context["request"])[0]
