"""The bench generator is deterministic and its identifiers are consistent with its files."""

from datetime import date

from bench import model
from bench.generate import Spec, event_count, generate
from bench.sizes import Size
from bench.stream import Streams

TINY = Size("T", 300, 3_000, 1, 200, 300, 100, 1, 10, 1, 100)


def _generate(tmp_path, monkeypatch, seed=1):
    monkeypatch.setattr("bench.generate.DATA_ROOT", tmp_path)
    spec = Spec(TINY, seed, date(2026, 1, 1))
    assert spec.chunks == 1
    return spec, generate(spec, processes=1, log=lambda message: None)


def test_generator_is_deterministic(tmp_path, monkeypatch):
    # given two generations with the same seed and one with another
    _, a = _generate(tmp_path / "a", monkeypatch)
    _, b = _generate(tmp_path / "b", monkeypatch)
    _, c = _generate(tmp_path / "c", monkeypatch, seed=2)

    # then
    for name in ("persons-000.tsv", "identities-000.tsv", "events-000.tsv", "events-000.idx"):
        assert (a / name).read_bytes() == (b / name).read_bytes()
    assert (a / "events-000.tsv").read_bytes() != (c / "events-000.tsv").read_bytes()


def test_files_match_the_model(tmp_path, monkeypatch):
    # given
    spec, directory = _generate(tmp_path, monkeypatch)

    # when
    persons = (directory / "persons-000.tsv").read_text().splitlines()
    idents = (directory / "identities-000.tsv").read_text().splitlines()
    events = (directory / "events-000.tsv").read_text().splitlines()

    # then every profile is there with its event count, and its identifiers are the model's
    assert len(persons) == TINY.profiles
    assert len(events) == sum(event_count(spec, i) for i in range(1, TINY.profiles + 1))
    assert event_count(spec, 1) == TINY.whale_events
    first = [line.split("\t")[1:3] for line in idents if line.startswith("7\t")]
    assert [tuple(x) for x in first] == model.identifiers(1, 7)
    offsets = [int(x) for x in (directory / "events-000.idx").read_text().split()]
    assert offsets[-1] == (directory / "events-000.tsv").stat().st_size


def test_stream_mix_and_merges_never_reuse_a_profile():
    # given
    streams = Streams(Spec(TINY, 1, date(2026, 1, 1)), TINY.profiles)

    # when
    messages, mix = streams.ingest(2_000)
    merges = streams.merges(20)

    # then
    assert sum(mix.values()) == len(messages) == 2_000
    assert mix["known"] > mix["anonymous"] > mix["new"] > mix["anon_merge"] > mix["merge"] > 0
    assert len({m["messageId"] for m in messages}) == len(messages)
    assert len(merges) == 20
    assert all(m["type"] == "identify" and m["userId"] for m in merges)
