"""Chunked request bodies (``Transfer-Encoding: chunked``, no Content-Length) are read."""

import base64
import contextlib
import gzip
import http.client
import io
import json
import os
import socket
import subprocess
import sys
import time
from urllib.parse import urlparse

import pytest
from django.conf import settings
from django.db import connection

from identity.api.body import BodyError, _read_chunked
from people.models import Event

BATCH = {
    "batch": [
        {"type": "track", "userId": "u1", "event": "Chunked", "messageId": "c1"},
        {
            "type": "track",
            "userId": "u2",
            "event": "Chunked",
            "messageId": "c2",
            "timestamp": "9999-12-31T23:00:00-23:00",
        },
    ]
}


def send_chunked(url: str, write_key: str, body: bytes, **headers) -> tuple[int, dict]:
    parsed = urlparse(url)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=20)
    pieces = [body[i : i + 7] for i in range(0, len(body), 7)]  # many small chunks
    # A server that reads no chunked body (Django's development server) may answer and close before
    # the last chunks are sent; its answer is still there to read.
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        connection.request(
            "POST",
            "/v1/batch",
            body=iter(pieces),
            headers={
                "Authorization": "Basic " + base64.b64encode(f"{write_key}:".encode()).decode(),
                "Content-Type": "application/json",
                "Transfer-Encoding": "chunked",
                **headers,
            },
            encode_chunked=True,
        )
    response = connection.getresponse()
    data = json.loads(response.read())
    connection.close()
    return response.status, data


@pytest.fixture
def gunicorn(transactional_db):
    """gunicorn (the production server, which decodes chunked bodies) on the test database."""
    port = _free_port()
    database = connection.settings_dict
    env = dict(
        os.environ,
        DATABASE_URL=f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}",
        DEBUG="1",
        DJANGO_SETTINGS_MODULE="config.settings",
    )
    command = [sys.executable, "-m", "gunicorn", "config.wsgi:application", "--bind", f"127.0.0.1:{port}"]
    server = subprocess.Popen(command, cwd=settings.BASE_DIR, env=env, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=20)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "gzip"])
def test_a_chunked_body_is_read_over_real_http(gunicorn, make_source, compressed):
    # given
    write_key = make_source("Chunky").write_key
    body = json.dumps(BATCH).encode()
    headers = {}
    if compressed:
        body = gzip.compress(body)
        headers["Content-Encoding"] = "gzip"
    # when
    status, data = send_chunked(gunicorn, write_key, body, **headers)
    # then: the valid message stored, the bad one rejected alone
    assert status == 200, data
    assert [(r["index"], r["code"]) for r in data["rejected"]] == [(1, "invalid_timestamp")]
    assert list(Event.objects.values_list("message_id", flat=True)) == ["c1"]


@pytest.mark.django_db(transaction=True)
def test_the_development_server_answers_411_to_a_chunked_body(live_server, make_source):
    # given: Django's development server passes no body on without a Content-Length
    write_key = make_source("Chunky").write_key
    # when
    status, data = send_chunked(live_server.url, write_key, json.dumps(BATCH).encode())
    # then
    assert status == 411
    assert data["code"] == "length_required" and "Content-Length" in data["message"]
    assert not Event.objects.exists()


def framed(*chunks: bytes, trailer: bytes = b"") -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n" + trailer + b"\r\n"


@pytest.mark.parametrize(
    "raw,terminated,expected",
    [
        (framed(b'{"a"', b": 1}"), False, b'{"a": 1}'),
        (framed(b"ab", trailer=b"X-Trailer: 1\r\n"), False, b"ab"),
        (b"5;ext=1\r\nhello\r\n0\r\n\r\n", False, b"hello"),
        (b'{"a": 1}', True, b'{"a": 1}'),  # the server decoded the chunks (gunicorn)
        (framed(), False, b""),
    ],
    ids=["two chunks", "trailer", "chunk extension", "decoded by the server", "empty"],
)
def test_chunk_framing_is_decoded(raw, terminated, expected):
    environ = {"wsgi.input": io.BytesIO(raw), "wsgi.input_terminated": terminated}
    assert _read_chunked(environ, 100) == expected


@pytest.mark.parametrize(
    "raw,code",
    [
        (b"zz\r\nhello\r\n0\r\n\r\n", "invalid_encoding"),
        (b"", "invalid_encoding"),
        (b"10\r\nshort", "invalid_encoding"),
        (framed(b"x" * 60, b"y" * 60), "payload_too_large"),
    ],
    ids=["size not hex", "no framing", "truncated chunk", "over the limit"],
)
def test_bad_chunk_framing_is_a_400(raw, code):
    with pytest.raises(BodyError) as error:
        _read_chunked({"wsgi.input": io.BytesIO(raw)}, 100)
    assert error.value.code == code and error.value.status == 400
