"""The bench's load driver against a real HTTP server: what it sends, counts and times."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench.http import build_request, closed_loop, open_loop


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as gunicorn

    def do_GET(self):
        status = 500 if self.path.startswith("/fail") else 200
        body = b"broken" if status == 500 else b"ok"
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def port():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def _requests(path, n, units=1):
    return [(build_request("GET", f"{path}/{k}"), units) for k in range(n)]


def test_closed_loop_sends_each_list_once_and_counts_units_of_successes(port):
    # given two clients: five good requests of 3 units each, and two failing ones
    per_client = [_requests("/ok", 5, units=3), _requests("/fail", 2, units=3)]

    # when
    res = closed_loop(port, per_client)

    # then
    assert res.sent == 7 and res.statuses == {200: 5, 500: 2}
    assert res.units == 15
    assert len(res.latencies) == 7 and all(0 < x < 5 for x in res.latencies)
    assert any("500" in e and "broken" in e for e in res.errors)


def test_closed_loop_with_seconds_loops_until_the_time_is_up(port):
    # when one client with two requests runs for 0.5 s
    res = closed_loop(port, [_requests("/ok", 2)], seconds=0.5)

    # then it sent them again and again, for about that long
    assert res.sent > 2 and res.statuses == {200: res.sent}
    assert 0.4 < res.seconds < 2


def test_open_loop_sends_the_rate_times_the_seconds(port):
    # when 40 requests/s for 0.5 s from two clients
    res = open_loop(port, [_requests("/ok", 3), _requests("/ok", 3)], rate=40, seconds=0.5)

    # then 10 each, spread over the half second (not back to back)
    assert res.sent == 20 and res.statuses == {200: 20} and res.units == 20
    assert 0.4 < res.seconds < 2
