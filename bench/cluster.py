"""The PostgreSQL settings the bench chooses, its own cluster that runs with them, and the check of a
server the bench does not own.

- ``recommended()``: the settings (``shared_buffers`` a quarter of this machine's memory, …), the same
  table as docs/performance.md "PostgreSQL settings".
- ``Cluster``: a dedicated PostgreSQL cluster (Debian's ``pg_createcluster`` / ``pg_ctlcluster``, as
  root), created once, its data directory reused across runs; the settings are written to its
  ``conf.d`` at every start and the cluster restarted when they changed.
- ``compare()``: a server's settings against the recommended ones, as a list of differences.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

VERSION = "15"
NAME = "bench"
PORT = 5433
BINARIES = Path(f"/usr/lib/postgresql/{VERSION}/bin")
DATA_DIR = Path(f"/var/lib/postgresql/{VERSION}/{NAME}")
CONF_FILE = "attune-bench.conf"
MB = 1024 * 1024

# Settings a session (hence ``ALTER DATABASE … SET``) may change; the others are the server's.
PER_DATABASE = (
    "effective_cache_size",
    "work_mem",
    "maintenance_work_mem",
    "random_page_cost",
    "jit",
    "synchronous_commit",
)
# Sizes that follow the machine's memory: a server within 10% of them counts as matching.
MEMORY_SHARE = ("shared_buffers", "effective_cache_size")


def memory_bytes() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 4096 * MB


def recommended(memory: int | None = None) -> dict[str, str]:
    """The bench's settings for a machine with ``memory`` bytes (default: this one's)."""
    memory = memory or memory_bytes()
    return {
        "shared_buffers": f"{memory // 4 // MB}MB",
        "effective_cache_size": f"{memory // 2 // MB}MB",
        "max_wal_size": "8GB",
        "checkpoint_timeout": "15min",
        "wal_compression": "lz4",
        "work_mem": "64MB",
        "maintenance_work_mem": "1GB",
        "random_page_cost": "1.1",
        "jit": "off",
        "synchronous_commit": "on",
    }


_UNITS = {
    "B": 1,
    "kB": 1024,
    "MB": MB,
    "GB": 1024 * MB,
    "TB": 1024 * 1024 * MB,
    "us": 1e-6,
    "ms": 1e-3,
    "s": 1,
    "min": 60,
    "h": 3600,
    "d": 86400,
}


def _quantity(text: str, unit: str | None = None) -> float | None:
    """``"64MB"`` → bytes, ``"15min"`` → seconds; ``text`` in ``unit`` (pg_settings' ``8kB``, ``s``…)."""
    m = re.fullmatch(r"\s*(-?[0-9.]+)\s*([A-Za-z]*)\s*", text)
    if not m:
        return None
    number, suffix = float(m.group(1)), m.group(2)
    if suffix:
        return number * _UNITS[suffix] if suffix in _UNITS else None
    if unit:
        u = re.fullmatch(r"([0-9]*)([A-Za-z]+)", unit)
        if not u or u.group(2) not in _UNITS:
            return None
        return number * int(u.group(1) or 1) * _UNITS[u.group(2)]
    return number


def current(conn) -> dict[str, dict]:
    """Each recommended setting as the server runs it for this database's sessions:
    ``{name: {"value": SHOW's text, "setting": pg_settings.setting, "unit": …}}``."""
    names = list(recommended())
    rows = conn.execute(
        "SELECT name, setting, unit FROM pg_settings WHERE name = ANY(%s)", (names,)
    ).fetchall()
    out = {}
    for name, setting, unit in rows:
        out[name] = {"value": conn.execute(f"SHOW {name}").fetchone()[0], "setting": setting, "unit": unit}
    return out


def compare(server: dict[str, dict], wanted: dict[str, str]) -> list[str]:
    """The settings that differ, as ``"name X (bench: Y)"``."""
    differ = []
    for name, want in wanted.items():
        have = server.get(name)
        if have is None:
            differ.append(f"{name} unknown to the server (bench: {want})")
            continue
        a = _quantity(have["setting"], have["unit"])
        b = _quantity(want)
        if a is not None and b is not None:
            same = abs(a - b) <= 0.1 * b if name in MEMORY_SHARE else abs(a - b) <= 1e-9 * max(1, b)
        else:
            same = have["setting"].lower() == want.lower() or have["value"].lower() == want.lower()
        if not same:
            differ.append(f"{name} {have['value']} (bench: {want})")
    return differ


@dataclass
class Cluster:
    """The bench's own PostgreSQL cluster: ``pg_createcluster VERSION NAME`` on ``port``, data in
    ``data_dir``, listening on 127.0.0.1 only, with trust authentication for local TCP connections."""

    port: int = PORT
    data_dir: Path = DATA_DIR
    version: str = VERSION
    name: str = NAME

    @property
    def conf_dir(self) -> Path:
        return Path(f"/etc/postgresql/{self.version}/{self.name}")

    @staticmethod
    def unavailable() -> str | None:
        """Why the bench cannot run its own cluster here, or None."""
        if not shutil.which("pg_createcluster") or not shutil.which("pg_ctlcluster"):
            return "Debian's pg_createcluster/pg_ctlcluster are not installed"
        if not (BINARIES / "postgres").exists():
            return f"PostgreSQL {VERSION} binaries not found in {BINARIES}"
        if os.geteuid() != 0:
            return "creating and starting a cluster needs root (pg_ctlcluster switches to the postgres user)"
        return None

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def exists(self) -> bool:
        return (self.conf_dir / "postgresql.conf").exists()

    def running(self) -> bool:
        return self._ctl("status", check=False).returncode == 0

    def _ctl(self, action: str, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", self.version, self.name, action],
            capture_output=True,
            text=True,
        )
        if check and proc.returncode:
            raise SystemExit(
                f"bench: pg_ctlcluster {self.version} {self.name} {action} failed: "
                f"{(proc.stderr or proc.stdout).strip()}"
            )
        return proc

    def _conf(self, settings: dict[str, str]) -> str:
        lines = [
            "# Written by the Attune bench (bench/cluster.py) at every start: edits here are overwritten.",
            f"port = {self.port}",
            "listen_addresses = '127.0.0.1'",
        ]
        lines += [f"{k} = '{v}'" for k, v in settings.items()]
        return "\n".join(lines) + "\n"

    def ensure(self, settings: dict[str, str], log=print) -> None:
        """Create the cluster if missing, write its settings, start it (restart if they changed)."""
        reason = self.unavailable()
        if reason:
            raise SystemExit(f"bench: --own-cluster: {reason}")
        if not self.exists():
            log(f"creating cluster {self.version}/{self.name} in {self.data_dir}, port {self.port}")
            proc = subprocess.run(
                [
                    "pg_createcluster",
                    "--port",
                    str(self.port),
                    "--datadir",
                    str(self.data_dir),
                    "--start-conf",
                    "manual",
                    self.version,
                    self.name,
                    "--",
                    "--auth-host=trust",
                    "--auth-local=peer",
                ],
                capture_output=True,
                text=True,
            )
            if proc.returncode:
                raise SystemExit(f"bench: pg_createcluster failed: {(proc.stderr or proc.stdout).strip()}")
        configured = self._data_directory()
        if configured and Path(configured) != self.data_dir:
            raise SystemExit(
                f"bench: cluster {self.version}/{self.name} exists with its data in {configured}, "
                f"not {self.data_dir}; pass --cluster-dir {configured} or drop it "
                f"(pg_dropcluster --stop {self.version} {self.name})"
            )
        conf = self.conf_dir / "conf.d" / CONF_FILE
        conf.parent.mkdir(parents=True, exist_ok=True)
        text = self._conf(settings)
        changed = not conf.exists() or conf.read_text() != text
        if changed:
            conf.write_text(text)
        if not self.running():
            log(f"starting cluster {self.version}/{self.name} on port {self.port}")
            self._ctl("start")
        elif changed:
            log(f"settings changed: restarting cluster {self.version}/{self.name}")
            self._ctl("restart")
        self._wait()

    def stop(self, log=print) -> None:
        if self.exists() and self.running():
            log(f"stopping cluster {self.version}/{self.name}")
            self._ctl("stop")

    def _data_directory(self) -> str | None:
        try:
            text = (self.conf_dir / "postgresql.conf").read_text()
        except OSError:
            return None
        m = re.search(r"^\s*data_directory\s*=\s*'([^']+)'", text, re.M)
        return m.group(1) if m else None

    def _wait(self, seconds: float = 60) -> None:
        deadline = time.time() + seconds
        while time.time() < deadline:
            ok = subprocess.run(
                ["pg_isready", "-q", "-h", "127.0.0.1", "-p", str(self.port)], capture_output=True
            ).returncode
            if ok == 0:
                return
            time.sleep(0.5)
        raise SystemExit(
            f"bench: cluster {self.version}/{self.name} did not accept connections in {seconds:.0f} s"
        )
