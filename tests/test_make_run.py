"""`make run` starts the web server and the worker, and one Ctrl-C stops both cleanly (no
RecursionError from the worker's signal handler, no "Segmentation fault" from the shell)."""

import contextlib
import os
import pty
import select
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed"),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def read_until(fd: int, output: bytearray, marker: bytes, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if marker in output:
            return True
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                return marker in output
            if not chunk:
                return marker in output
            output.extend(chunk)
    return marker in output


def serving(port: int, fd: int, output: bytearray, timeout: float) -> bool:
    """Whether the server accepts connections within ``timeout`` seconds (its output keeps being read)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
        read_until(fd, output, b"\x00never\x00", 0.5)
    return False


def wait_for(pid: int, timeout: float) -> int | None:
    """The exit status of ``pid``, or ``None`` if it has not ended within ``timeout`` seconds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        time.sleep(0.2)
    return None


def test_ctrl_c_on_make_run_stops_server_and_worker_cleanly(tmp_path):
    # given `make run` on a terminal, with its own SQLite database and port
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'run.sqlite3'}",
        "PORT": str(port),
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    pid, fd = pty.fork()
    if pid == 0:  # the child: make on the pseudo-terminal
        # A fresh terminal's signals, whatever the test process inherited or set: a SIGINT ignored
        # here would be ignored by make, its shell and the server too (ignored signals survive exec).
        for number in (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT, signal.SIGHUP):
            signal.signal(number, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        os.chdir(ROOT)
        os.execvpe("make", ["make", "run", f"PORT={port}"], env)
    output = bytearray()
    try:
        assert read_until(fd, output, b"Quit the server", 180), output.decode(errors="replace")[-2000:]
        # ... and serving: on a busy machine the banner comes before the socket is bound, and a Ctrl-C
        # in between is not the case under test
        assert serving(port, fd, output, 60), output.decode(errors="replace")[-2000:]
        # when the operator presses Ctrl-C (the terminal signals the whole foreground group)
        os.write(fd, b"\x03")
        stopped = read_until(fd, output, b"Attune stopped.", 90)
        status = wait_for(pid, 30)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)  # make runs in its own session: only its processes
        with_pid = subprocess.run(["pgrep", "-f", f"127.0.0.1:{port}"], capture_output=True, text=True)
        for leftover in with_pid.stdout.split():
            os.kill(int(leftover), 15)
    text = output.decode(errors="replace")
    # then both stop, without a crash
    assert stopped, text[-2000:]
    assert "has stopped" in text  # the worker's own clean shutdown message
    assert "RecursionError" not in text and "Segmentation fault" not in text
    assert with_pid.stdout == ""  # nothing left running on the port
    # make itself ends as interrupted, the convention for Ctrl-C (not with a crash signal)
    assert status is not None and (os.WIFEXITED(status) or os.WTERMSIG(status) == signal.SIGINT)
