"""The documented production command (gunicorn with config/gunicorn.conf.py, DEBUG off) keeps
answering normal requests while 200 slow clients hold sockets with incomplete headers."""

import base64
import json
import os
import re
import select
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.db import connection

from people.models import Event

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]
SLOW_CLIENTS = 200


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(port: int, process, deadline: float) -> None:
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"gunicorn exited: {process.stdout.read().decode(errors='replace')[-2000:]}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/track", timeout=1)
        except urllib.error.HTTPError:
            return  # any HTTP answer: the server is up
        except OSError:
            time.sleep(0.2)
    raise AssertionError("gunicorn did not start in time")


@pytest.fixture
def production_server(make_source):
    """``gunicorn -c config/gunicorn.conf.py config.wsgi`` on a free port, against the test database."""
    try:
        import gevent  # noqa: F401
    except ImportError:
        pytest.fail("gevent (requirements.txt) is not installed: pip install -r requirements.txt")
    source = make_source("Website")
    port = free_port()
    db = connection.settings_dict
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": "slow-client-test",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}:"
        f"{db['PORT'] or 5432}/{db['NAME']}",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_ACCESS_LOG": "",
        "WEB_CONCURRENCY": "2",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.conf.py", "config.wsgi"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until_up(port, process, time.monotonic() + 60)
        yield port, source.write_key, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        connection.close()


def track(port: int, write_key: str, event: str) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/track",
        data=json.dumps({"userId": "slow-test", "event": event}).encode(),
        headers={
            "Content-Type": "application/json",
            "Authorization": "Basic " + base64.b64encode(f"{write_key}:".encode()).decode(),
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status


def test_two_hundred_slow_clients_do_not_stop_normal_requests(production_server):
    port, write_key, _ = production_server
    # given 200 clients that connected and sent part of their headers, and then nothing
    slow = []
    try:
        for _ in range(SLOW_CLIENTS):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(b"POST /v1/track HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            slow.append(s)
        time.sleep(1)
        # when normal clients send events meanwhile
        started = time.monotonic()
        statuses = [track(port, write_key, f"Normal {i}") for i in range(6)]
        elapsed = time.monotonic() - started
        # then each is answered promptly and stored, while the slow sockets are still open
        assert statuses == [200] * 6
        assert elapsed < 20
        for s in slow[:10]:
            s.setblocking(False)
            with pytest.raises(BlockingIOError):  # still waiting for the rest of its headers
                s.recv(1)
    finally:
        for s in slow:
            s.close()
    assert sorted(Event.objects.filter(name__startswith="Normal").values_list("name", flat=True)) == [
        f"Normal {i}" for i in range(6)
    ]


def server_backends() -> dict[int, object]:
    """The production server's connections to the test database: backend pid -> its start time."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, backend_start FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
        )
        return dict(cursor.fetchall())


def test_requests_borrow_pooled_connections_instead_of_opening_one_each(production_server):
    """Each gevent worker keeps a pool of open connections: requests after the first find them open
    (the same server processes, started before), instead of connecting anew per request."""
    port, write_key, _ = production_server
    assert [track(port, write_key, f"Warm {i}") for i in range(10)] == [200] * 10
    warm = server_backends()
    # at most the two workers' pools (20 each), and at least one connection left open for the next request
    assert 1 <= len(warm) <= 40
    assert [track(port, write_key, f"Again {i}") for i in range(20)] == [200] * 20
    again = server_backends()
    assert set(again) >= set(warm)
    assert all(again[pid] == started for pid, started in warm.items())
    assert Event.objects.filter(name__startswith="Again").count() == 20


def test_each_worker_leaves_the_loaded_app_out_of_full_garbage_collections(production_server):
    """A worker freezes what it holds once the app is loaded (gc.freeze), so the collector's full
    passes, which stalled every request of the worker for 150 ms and more, walk only newer objects;
    each worker says so in the server's log."""
    port, write_key, process = production_server
    assert track(port, write_key, "After start") == 200
    log, fd = "", process.stdout.fileno()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and log.count("left out of full garbage collections") < 2:
        if select.select([fd], [], [], 0.5)[0]:
            log += os.read(fd, 65536).decode()
    frozen = [line for line in log.splitlines() if "left out of full garbage collections" in line]
    assert len(frozen) == 2, log
    counts = [int(re.search(r"(\d+) objects left out", line).group(1)) for line in frozen]
    assert all(count > 10_000 for count in counts), frozen
