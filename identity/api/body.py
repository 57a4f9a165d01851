"""Reading tracking request bodies: any Content-Type, gzip or deflate, bounded decompression, chunked
transfer encoding, and JSON parsed without unbounded recursion (``identity.limits.parse_json``)."""

from __future__ import annotations

import zlib
from typing import Any

from django.conf import settings
from django.core.handlers.wsgi import LimitedStream
from rest_framework.parsers import BaseParser

from identity.limits import parse_json, text_problem


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


def _read_chunked(environ: dict, limit: int) -> bytes:
    """A ``Transfer-Encoding: chunked`` body (no Content-Length), at most ``limit`` + 1 bytes.

    Django reads no body without a Content-Length, so the WSGI input is read here. Servers that
    decode the chunks themselves say so with ``wsgi.input_terminated`` (gunicorn, waitress,
    mod_wsgi). Django's development server hands on no body without a Content-Length: 411. A
    server that passes the raw stream gets its chunk framing decoded here.
    """
    stream = environ["wsgi.input"]
    if isinstance(stream, LimitedStream):
        raise BodyError(
            "length_required",
            "This server (Django's development server) cannot read chunked bodies: send a Content-Length.",
            status=411,
        )
    if environ.get("wsgi.input_terminated"):
        parts, size = [], 0
        while size <= limit:
            part = stream.read(min(65536, limit + 1 - size))
            if not part:
                break
            parts.append(part)
            size += len(part)
        return b"".join(parts)
    parts, size = [], 0
    while True:
        line = stream.readline(1024)
        try:
            chunk = int(line.split(b";", 1)[0].strip() or b"x", 16)
        except ValueError:
            raise BodyError("invalid_encoding", "The chunked body is malformed.") from None
        if chunk == 0:
            while stream.readline(1024).strip():  # trailers, up to the blank line
                pass
            return b"".join(parts)
        if size + chunk > limit:
            raise BodyError(
                "payload_too_large", f"The body is larger than {limit} bytes; nothing was stored."
            )
        data = stream.read(chunk)
        if len(data) < chunk:
            raise BodyError("invalid_encoding", "The chunked body is truncated.")
        stream.readline(1024)  # the CRLF after the chunk
        parts.append(data)
        size += chunk


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
    if not length and "chunked" in django_request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
        data = _read_chunked(django_request.META, limit)
    else:
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
        parsed = parse_json(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BodyError("invalid_json", f"The body is not valid JSON: {exc}.") from exc
    write_key = parsed.get("writeKey") if isinstance(parsed, dict) else None
    if isinstance(write_key, str) and text_problem(write_key):
        raise BodyError("invalid_write_key", f"The writeKey {text_problem(write_key)}.", status=401)
    django_request._attune_body = (parsed, len(data))
    return parsed, len(data)


class AnyContentParser(BaseParser):
    """Documents that tracking endpoints take JSON under any Content-Type (views use read_body)."""

    media_type = "*/*"

    def parse(self, stream, media_type=None, parser_context=None):
        return read_body(parser_context["request"])[0]
