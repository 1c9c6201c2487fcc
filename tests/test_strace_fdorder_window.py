"""OrderLog.creators_of's shortcut for a whole window against its creator-by-creator path.

When no allocation can fall in the quiet window of the window's earliest creator, none can
fall in any later creator's either (the floor only grows with a creator's end), so every
creator passes _fits_allocs at once. Random logs (FEATURE calls, allocations, one-line and
spanning releases, execs, an allocation that never resumed) must give the very same
creators both ways, for every fd number and use.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.test_strace_fdorder import _RECORDS, logged, point
from vfio_migcheck.traces.strace.fdorder import OrderLog


def _log(records, odd: bool, fd: int, freed: bool) -> OrderLog:
    log = OrderLog()
    if freed:    # the fd surely free from the start: creators_of then always answers
        log.release(point(0), fd, fd, frees=True)
    return logged(log, records, fd, odd)


@settings(max_examples=400, deadline=None)
@given(_RECORDS, st.integers(3, 10), st.booleans(), st.integers(1, 70), st.booleans())
def test_the_window_shortcut_keeps_the_creators(records, fd, odd, use_line, freed) -> None:
    log = _log(records, odd, fd, freed)
    use = point(use_line)
    found = log.creators_of(fd, use)
    free = log.free_point(fd, use)
    if free is None:
        assert found is None
        return
    window = [c for c in log.creators.ending_after(free.start) if c.span.start < use.end]
    expected = [c for c in window if log._fits_allocs(c, fd)]
    assert found is not None
    assert [id(c) for c in found] == [id(c) for c in expected]


def test_the_shortcut_weighs_the_earliest_creator_s_window() -> None:
    """Two creators: an allocation falls in the quiet window of the earlier one only (a
    release between it and the later one), so the earlier one cannot have made the fd.
    The shortcut must look at the earliest end's floor: at the latest end's it would wave
    both through."""
    log = OrderLog()
    log.release(point(0), 5, 5, frees=True)         # fd 5 surely free from here on
    log.feature(point(1), "A")
    log.alloc(point(2), 4, lowest=True)             # after A, before any release: < 5
    log.release(point(3), 9, 9, frees=False)        # a release: B's window starts here
    log.feature(point(5), "B")
    found = log.creators_of(5, point(7))
    assert found is not None
    assert [c.device for c in found] == ["B"]
