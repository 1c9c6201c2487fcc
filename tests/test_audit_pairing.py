"""Source <-> destination pairing and the A001 stream-length finding."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.test_audit_builders import device, result, resuming, saving
from vfio_migcheck.audit.pairing import (
    RULE_STREAM_LENGTH,
    Candidate,
    End,
    candidate_of,
    pack,
    pair_captures,
    unpack,
)


def _src(file, name="gpu0", pre=100, stop=50, ts=10.0):
    return result(file, devices=[device(name, sessions=[
        saving(pre=10, opened_ts=1.0),                  # an aborted pre-copy: not the stream
        saving(pre=pre, stop=stop, opened_ts=ts, stop_copy_ts=None if ts is None else ts + 1,
               eof_line=40, opened_line=30)])])


def _dst(file, name="gpu0", written=150, ts=20.0):
    return result(file, devices=[device(name, sessions=[
        resuming(written=written, writes=3, opened_ts=ts, opened_line=12)])])


def test_explicit_pair_that_matches_gives_no_finding():
    p = pair_captures([_src("s"), _dst("d")], [("s", "d")])
    (pair,) = p.pairs
    assert pair.how == "explicit" and pair.matches
    assert (pair.source.bytes, pair.destination.bytes) == (150, 150)
    assert pair.source.line == 30
    assert p.findings == () and p.problems == ()


def test_explicit_pair_mismatch_is_an_a001_error_on_the_destination():
    p = pair_captures([_src("s"), _dst("d", written=96)], [("s", "d")])
    (f,) = p.findings
    assert (f.rule, f.severity, f.party) == (RULE_STREAM_LENGTH, "error", "unknown")
    assert (f.file, f.line, f.device) == ("d", 12, "gpu0")
    assert "150" in f.message and "96" in f.message


def test_matched_by_device_name_and_time_nearest_later_destination():
    results = [_src("s1", ts=10.0), _src("s2", ts=30.0),
               _dst("d-early", ts=5.0), _dst("d1", ts=12.0), _dst("d2", ts=31.0, written=7),
               _dst("other", name="nic0", ts=11.0)]
    p = pair_captures(results)
    got = {(x.source.file, x.destination.file, x.how) for x in p.pairs}
    assert got == {("s1", "d1", "matched"), ("s2", "d2", "matched")}
    (f,) = p.findings
    assert f.file == "d2"


def test_no_pair_without_timestamps_or_names():
    assert pair_captures([_src("s", ts=None), _dst("d")]).pairs == ()
    assert pair_captures([_src("s"), _dst("d", name="other")]).pairs == ()


def test_same_capture_two_devices():
    r = result("m", devices=[
        device("A", sessions=[saving(pre=60, stop=36, eof_line=50)]),
        device("B", sessions=[resuming(written=96, writes=4)]),
    ])
    (pair,) = pair_captures([r]).pairs
    assert pair.how == "same-capture" and pair.matches


def test_same_device_saving_and_resuming_is_not_a_migration():
    r = result("matrix", devices=[device("A", sessions=[
        saving(pre=1, stop=2, eof_line=5), resuming(written=9, writes=1)])])
    assert pair_captures([r]).pairs == ()


def test_explicit_pair_problems_are_reported_not_raised():
    p = pair_captures([_dst("d"), result("bad", error="x")], [("d", "d"), ("bad", "d")])
    assert p.pairs == ()
    assert any("no saving session" in m for m in p.problems)
    assert any("unreadable" in m for m in p.problems)


def test_explicit_pair_with_several_devices_uses_names():
    src = result("s", devices=[
        device("A", sessions=[saving(pre=5, stop=5, eof_line=3)]),
        device("B", sessions=[saving(pre=7, stop=0, stop_copy_ts=1.0)])])
    dst = result("d", devices=[
        device("B", sessions=[resuming(written=7, writes=1)]),
        device("A", sessions=[resuming(written=9, writes=1)])])
    p = pair_captures([src, dst], [("s", "d")])
    assert {(x.source.device, x.destination.device, x.matches) for x in p.pairs} == {
        ("A", "A", False), ("B", "B", True)}


def test_matching_window_and_harness_captures():
    # the resume starts 30 s after the source's stream ended: another migration, not this one
    late = pair_captures([_src("s", ts=10.0), _dst("d", ts=11.0 + 30.0)])
    assert late.pairs == ()
    # a capture that saves and resumes the same device is a test harness, never matched
    harness = result("h", devices=[device("gpu0", sessions=[
        saving(pre=5, stop=5, eof_line=3, opened_ts=9.0), resuming(written=10, writes=1,
                                                                   opened_ts=9.5)])])
    p = pair_captures([harness, _src("s", ts=10.0), _dst("d", ts=12.0)])
    assert [(x.source.file, x.destination.file) for x in p.pairs] == [("s", "d")]


def test_hidden_phase_source_counts_all_its_bytes():
    """Plain strace hides which reads were PRE_COPY and which STOP_COPY."""
    src = result("save", devices=[device("group0/dev0", sessions=[
        saving(pre=24, hidden=72, opened_ts=1.0)], last_ts=1.1)])
    dst = result("restore", devices=[device("group0/dev0", sessions=[
        resuming(written=96, writes=3, opened_ts=1.3)])])
    (pair,) = pair_captures([src, dst]).pairs
    assert pair.how == "matched" and pair.source.bytes == 96 and pair.matches


def test_volume_counts_hidden_phase_bytes():
    from vfio_migcheck.audit.volume import session_volumes, volume_totals

    r = result("save", devices=[device(sessions=[saving(pre=24, hidden=72, reads=(24, 72))])])
    (v,) = session_volumes([r])
    assert v.bytes_read == 96 and v.bytes_unknown_phase == 72
    assert volume_totals([v]).bytes_unknown_phase == 72


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["src", "dst"]), st.sampled_from(["a", "b"]),
                          st.floats(0, 100), st.integers(1, 50)), max_size=8),
       st.randoms(use_true_random=False))
def test_pairing_ignores_input_order_and_uses_each_end_once(ends, rnd):
    results = []
    for i, (kind, name, ts, size) in enumerate(ends):
        file = f"c{i}"
        if kind == "src":
            results.append(_src(file, name=name, pre=size, stop=0, ts=ts))
        else:
            results.append(_dst(file, name=name, written=size, ts=ts))
    first = pair_captures(results)
    shuffled = results[:]
    rnd.shuffle(shuffled)
    assert pair_captures(shuffled) == first
    used = [(e.file, e.device) for p in first.pairs for e in (p.source, p.destination)]
    assert len(used) == len(set(used))
    assert len(first.findings) == sum(1 for p in first.pairs if not p.matches)
    for p in first.pairs:
        assert p.source.device == p.destination.device
        assert p.source.ts <= p.destination.ts


def test_only_comparable_clocks_are_matched():
    src, dst = _src("s", ts=10.0), _dst("d", ts=12.0)
    assert len(pair_captures([src, dst]).pairs) == 1
    for clocks in (("relative", "relative"), ("absolute", "time-of-day"), ("none", "none")):
        a, b = replace(src, timestamps=clocks[0]), replace(dst, timestamps=clocks[1])
        assert pair_captures([a, b]).pairs == ()


def test_ambiguous_name_and_time_is_not_paired_but_reported():
    # two sources whose windows both hold the one destination (lab walks run back to back
    # on one device name): pairing either would invent a mismatch
    results = [_src("s1", ts=10.0), _src("s2", ts=11.0), _dst("d", ts=12.0, written=7)]
    p = pair_captures(results)
    assert p.pairs == () and p.findings == ()
    assert len(p.problems) == 2 and all("pass --pair" in m for m in p.problems)
    # one source, two destinations in its window: the same
    p = pair_captures([_src("s", ts=10.0), _dst("d1", ts=12.0), _dst("d2", ts=13.0)])
    assert p.pairs == () and "d1" in p.problems[0] and "d2" in p.problems[0]
    # explicit pairing settles it
    p = pair_captures(results, requested=[("s2", "d")])
    assert [(x.source.file, x.how) for x in p.pairs] == [("s2", "explicit")]


_TS = st.none() | st.floats(allow_nan=False, allow_infinity=False)
_SIZE = st.integers(0, 2**70)


@settings(max_examples=80, deadline=None)
@given(st.text(min_size=1), st.lists(st.tuples(
    st.text(min_size=1), st.booleans(), st.booleans(), st.none() | st.integers(0, 2**40),
    _TS, _TS, _SIZE, _SIZE), max_size=4))
def test_packed_candidate_round_trips_exactly(file, rows):
    """What the fleet audit keeps per capture comes back exactly (floats included)."""
    devices = tuple(
        (name, End(file, name, line, ts, size, end_ts) if src else None,
         End(file, name, line, end_ts, size2) if dst else None)
        for name, src, dst, line, ts, end_ts, size, size2 in rows)
    candidate = Candidate(file, "absolute", devices)
    (back,) = unpack(pack(candidate))
    assert back == candidate
    assert list(unpack(pack(candidate) * 3)) == [candidate] * 3


def test_a_capture_pairing_cannot_use_leaves_no_candidate():
    untimed = _src("s", ts=None)
    relative = replace(_src("s"), timestamps="relative")
    assert candidate_of(untimed) is None and candidate_of(relative) is None
    assert candidate_of(_src("s")) is not None             # timed, shared clock: matchable
    assert candidate_of(untimed, keep=True) is not None    # named by --pair
    assert candidate_of(result("e", error="unreadable"), keep=True) is None
    two = result("m", timestamps="none", devices=[
        device("A", sessions=[saving(pre=60, stop=36, eof_line=50)]),
        device("B", sessions=[resuming(written=96, writes=4)])])
    assert candidate_of(two) is not None                    # a same-capture migration
    both = result("h", devices=[device("A", sessions=[
        saving(pre=60, stop=36, eof_line=50, opened_ts=1.0),
        resuming(written=96, writes=4, opened_ts=2.0)])])
    assert candidate_of(both) is None                       # a harness: saves and resumes


def test_a_candidate_costs_tens_of_bytes_beyond_its_path():
    """The fleet audit keeps one per pairable capture until the end: it must stay small."""
    src = _src("/srv/captures/2026-12-03/host0017/mig-000042.strace.gz", name="0000:3b:00.1",
               pre=2**31, stop=2**33, ts=1767225600.123456)
    packed = pack(candidate_of(src))
    assert len(packed) - len(src.file) < 100


def test_an_ambiguity_names_the_same_rivals_whatever_the_input_order():
    """Found by hypothesis: a source with two possible destinations listed the senders of
    whichever destination came first in the input, so the message changed with the order."""
    ends = [("src", 0.0), ("src", 0.0), ("src", 0.0), ("src", 0.0), ("src", 1.0), ("src", 0.0),
            ("dst", 0.0), ("dst", 1.0)]
    results = [(_src(f"c{i}", name="a", pre=1, stop=0, ts=ts) if kind == "src"
                else _dst(f"c{i}", name="a", written=1, ts=ts))
               for i, (kind, ts) in enumerate(ends)]
    first = pair_captures(results)
    assert pair_captures(results[::-1]) == first
    assert pair_captures(results[6:] + results[:6]) == first
    assert len(first.problems) == 6 and not first.pairs
