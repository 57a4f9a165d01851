"""The bench's PostgreSQL settings: what it chooses for a machine, and how it compares a server's."""

import pytest

from bench.cluster import Cluster, compare, recommended

GB = 1024**3


def test_recommended_follows_the_machines_memory():
    # given a 24 GB machine
    wanted = recommended(24 * GB)

    # then
    assert wanted["shared_buffers"] == "6144MB" and wanted["effective_cache_size"] == "12288MB"
    assert wanted["max_wal_size"] == "8GB" and wanted["checkpoint_timeout"] == "15min"
    assert wanted["synchronous_commit"] == "on" and wanted["jit"] == "off"
    assert wanted["wal_compression"] == "lz4" and wanted["random_page_cost"] == "1.1"


def _server(**overrides):
    """pg_settings' view of a server that runs the recommended settings of a 24 GB machine."""
    rows = {
        "shared_buffers": ("786432", "8kB", "6GB"),
        "effective_cache_size": ("1572864", "8kB", "12GB"),
        "max_wal_size": ("8192", "MB", "8GB"),
        "checkpoint_timeout": ("900", "s", "15min"),
        "wal_compression": ("lz4", None, "lz4"),
        "work_mem": ("65536", "kB", "64MB"),
        "maintenance_work_mem": ("1048576", "kB", "1GB"),
        "random_page_cost": ("1.1", None, "1.1"),
        "jit": ("off", None, "off"),
        "synchronous_commit": ("on", None, "on"),
    } | overrides
    return {name: {"setting": s, "unit": u, "value": v} for name, (s, u, v) in rows.items()}


def test_a_server_with_the_recommended_settings_matches():
    assert compare(_server(), recommended(24 * GB)) == []


def test_a_memory_share_within_ten_percent_matches():
    # given shared_buffers 5.8 GB against 6 GB wanted
    server = _server(shared_buffers=("760000", "8kB", "5937MB"))

    # then
    assert compare(server, recommended(24 * GB)) == []


@pytest.mark.parametrize(
    ("name", "row", "said"),
    [
        ("shared_buffers", ("16384", "8kB", "128MB"), "shared_buffers 128MB (bench: 6144MB)"),
        ("max_wal_size", ("1024", "MB", "1GB"), "max_wal_size 1GB (bench: 8GB)"),
        ("checkpoint_timeout", ("300", "s", "5min"), "checkpoint_timeout 5min (bench: 15min)"),
        ("wal_compression", ("off", None, "off"), "wal_compression off (bench: lz4)"),
        ("work_mem", ("4096", "kB", "4MB"), "work_mem 4MB (bench: 64MB)"),
        ("random_page_cost", ("4", None, "4"), "random_page_cost 4 (bench: 1.1)"),
        ("jit", ("on", None, "on"), "jit on (bench: off)"),
        ("synchronous_commit", ("off", None, "off"), "synchronous_commit off (bench: on)"),
    ],
)
def test_each_differing_setting_is_named_with_both_values(name, row, said):
    # given a server that differs in one setting
    server = _server(**{name: row})

    # then
    assert compare(server, recommended(24 * GB)) == [said]


def test_a_setting_the_server_does_not_know_is_named():
    server = _server()
    del server["wal_compression"]

    assert compare(server, recommended(24 * GB)) == ["wal_compression unknown to the server (bench: lz4)"]


def test_the_cluster_listens_on_localhost_with_the_settings_it_is_given():
    # given
    conf = Cluster(port=5499)._conf({"shared_buffers": "6144MB", "jit": "off"})

    # then
    assert conf.splitlines()[1:] == [
        "port = 5499",
        "listen_addresses = '127.0.0.1'",
        "shared_buffers = '6144MB'",
        "jit = 'off'",
    ]
