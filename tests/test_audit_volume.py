"""Data volume per session and in total, on sessions with known byte counts."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tests.test_audit_builders import device, result, resuming, saving
from vfio_migcheck.audit.volume import bucket_labels, session_volumes, size_bucket, volume_totals


def test_sessions_and_totals():
    src = result("src", devices=[device(sessions=[
        saving(pre=48, stop=48, reads=(32, 16, 0, 48, 0))])])
    dst = result("dst", devices=[device("d1", sessions=[resuming(written=96, writes=3)])])
    volumes = session_volumes([src, dst])
    assert [(v.file, v.device, v.kind) for v in volumes] == [
        ("src", "dev0", "saving"), ("dst", "d1", "resuming")]
    s = volumes[0]
    assert (s.bytes_read, s.read_min, s.read_max, s.reads) == (96, 0, 48, 5)
    assert s.read_mean == 96 / 5
    t = volume_totals(volumes)
    assert (t.sessions, t.saving, t.resuming) == (2, 1, 1)
    assert (t.bytes_precopy, t.bytes_stopcopy, t.bytes_written) == (48, 48, 96)
    assert (t.reads, t.writes) == (5, 3)
    assert t.read_size_histogram["0"] == 2 and t.read_size_histogram["<=64"] == 3
    assert list(t.read_size_histogram) == bucket_labels()


def test_size_buckets_edges():
    assert size_bucket(0) == "0"
    assert size_bucket(64) == "<=64" and size_bucket(65) == "<=512"
    assert size_bucket(1 << 20) == "<=1M" and size_bucket((1 << 20) + 1) == ">1M"


def test_no_sessions():
    t = volume_totals([])
    assert t.sessions == 0 and sum(t.read_size_histogram.values()) == 0


@given(st.lists(st.integers(0, 1 << 22), max_size=50))
def test_histogram_counts_every_read_once(sizes):
    dev = device(sessions=[saving(pre=sum(sizes), reads=tuple(sizes))])
    t = volume_totals(session_volumes([result("x", devices=[dev])]))
    assert sum(t.read_size_histogram.values()) == len(sizes)
    assert t.bytes_precopy == sum(sizes)
