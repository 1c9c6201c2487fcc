"""Which device made a data fd, from the order in which Linux hands out fd numbers.

Linux gives every new fd the LOWEST free number of the fd table (shared by the threads
of a process). So if two allocations happen one after the other and nothing is released
in between, the later one gets the bigger number. A data fd comes from one successful
``VFIO_DEVICE_FEATURE`` call, whose payload strace cannot show; this module keeps, per fd
table, the calls that may allocate or release numbers, and at the first use of a data fd
asks which devices' FEATURE calls can have created it under every assignment of data fds
to FEATURE calls that respects:

* each FEATURE call creates at most one fd; it comes after the fd number was last freed
  (a close of that number, or an exec: data fds are close-on-exec) and before its use;
* two creations with no release in between are ordered like their numbers; a visible
  allocation (open, socket, dup, GET_DEVICE_FD, ...) counts as a creation.

Only constraints that hold for sure are used; dropping one can only widen the answer, so
whenever something is unclear (no free point, a release in flight in another thread,
io_uring, an fd-table blind spot, too much to search) the answer is "unknown". Constraints
between data fds use only fds whose ``-y`` decoration proves they are migration fds.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from typing import NamedTuple

INF = float("inf")
#: records kept per fd table before the oldest half is dropped behind a horizon
MAX_RECORDS = 4000
#: earlier proven data fds taken into the search (fewer constraints is always sound)
MAX_PEERS = 8
#: search nodes before giving up (the answer is then "unknown")
MAX_NODES = 5000
#: FEATURE calls that may have made one fd, beyond which it is left unknown
MAX_CANDIDATES = 64
#: releases spanning several lines (split calls) kept before a horizon is set
MAX_SPANNING = 256


# The records are named tuples: a dense capture makes one per FEATURE call, and a frozen
# dataclass costs several times as much to build. Creators are told apart by identity
# (each record is its own object), never by value.

class Span(NamedTuple):
    """Lines a call covered: its effect happened somewhere in [start, end]."""

    start: float
    end: float

    def before(self, other: Span) -> bool:
        return self.end < other.start


class Creator(NamedTuple):
    """A FEATURE call that may have created a data fd (device None: not a named device)."""

    span: Span
    device: str | None


class Alloc(NamedTuple):
    """A visible allocation of ``fd``; ``lowest``: it took the lowest free number."""

    span: Span
    fd: int
    lowest: bool


class Release(NamedTuple):
    """A call that may free numbers in [first, last]; ``frees``: it surely did."""

    span: Span
    first: int
    last: float
    frees: bool


@dataclass(frozen=True, slots=True)
class DataUse:
    """A proven data fd of this table, its first use and its possible creators then
    (a later question may narrow them further; not doing so only widens answers)."""

    fd: int
    use: Span
    creators: list[Creator] | None


class _ByEnd:
    """Records in the order their calls ended (the order the reader completes them), so
    "records ending in (lo, hi)" is a bisection; the rare record that ends out of order
    (a call that never resumed) is kept aside and always looked at."""

    def __init__(self) -> None:
        self.items: list = []
        self.ends: list[float] = []
        self.odd: list = []

    def add(self, item) -> None:
        end = item.span.end
        if end == INF or (self.ends and end < self.ends[-1]):
            self.odd.append(item)
        else:
            self.items.append(item)
            self.ends.append(end)

    def ending_after(self, low: float, high: float = INF) -> list:
        """Records whose end is in (low, high), plus every out-of-order record."""
        first = bisect_right(self.ends, low)
        last = bisect_left(self.ends, high, first)
        return [*self.items[first:last], *self.odd]

    def __len__(self) -> int:
        return len(self.items) + len(self.odd)

    def drop_before(self, line: float) -> None:
        cut = bisect_left(self.ends, line)
        del self.items[:cut]
        del self.ends[:cut]


@dataclass
class OrderLog:
    """What one fd table's history says about fd allocation order."""

    creators: _ByEnd = field(default_factory=_ByEnd)
    allocs: _ByEnd = field(default_factory=_ByEnd)
    points: _ByEnd = field(default_factory=_ByEnd)        # releases within one line
    spans: list[Release] = field(default_factory=list)   # releases over several lines
    frees: dict[int, Span] = field(default_factory=dict)  # fd -> latest sure free point
    frees_all: Span | None = None                         # latest free point of every fd
    range_frees: list[Release] = field(default_factory=list)  # close_range that freed
    data: list[DataUse] = field(default_factory=list)
    blind: str | None = None       # why the history cannot be trusted any more
    shared: bool = False           # a clone() shared this table with another task
    rooted: bool = False           # an execve of this table was seen (no older threads)
    saw_close: bool = False        # close() is in the trace (not filtered out)
    horizon: float = -INF          # records ending before this line were dropped
    held: int = 0                  # creators + allocs + points (what _trim bounds)

    # --- recording ----------------------------------------------------------------------

    def feature(self, span: Span, device: str | None) -> None:
        self.creators.add(Creator(span, device))
        self.held += 1
        if self.held > MAX_RECORDS:
            self._trim()

    def alloc(self, span: Span, fd: int, lowest: bool) -> None:
        self.allocs.add(Alloc(span, fd, lowest))
        self.held += 1
        if self.held > MAX_RECORDS:
            self._trim()

    def release(self, span: Span, first: int, last: float, frees: bool) -> None:
        record = Release(span, first, last, frees)
        if span.start == span.end:
            self.points.add(record)
            self.held += 1
        else:
            self.spans.append(record)
            del self.spans[:-MAX_SPANNING]
            if len(self.spans) == MAX_SPANNING:
                self.horizon = max(self.horizon, self.spans[0].span.start)
        if frees:
            if first == last:
                if first not in self.frees or self.frees[first].start < span.start:
                    self.frees[first] = span
            elif first == 0 and last == INF:
                if self.frees_all is None or self.frees_all.start < span.start:
                    self.frees_all = span
            else:
                self.range_frees.append(record)
                del self.range_frees[:-MAX_SPANNING]
        if self.held > MAX_RECORDS:
            self._trim()

    def data_fd(self, fd: int, use: Span, creators: list[Creator] | None) -> None:
        self.data.append(DataUse(fd, use, creators))
        del self.data[:-MAX_PEERS]

    def _trim(self) -> None:
        """Past MAX_RECORDS, the older half is dropped behind a horizon."""
        self.held = len(self.creators) + len(self.allocs) + len(self.points)
        if self.held <= MAX_RECORDS:
            return
        ends = sorted([*self.creators.ends, *self.allocs.ends, *self.points.ends])
        cut = ends[len(ends) // 2]
        self.horizon = max(self.horizon, cut)
        for records in (self.creators, self.allocs, self.points):
            records.drop_before(cut)
        self.held = len(self.creators) + len(self.allocs) + len(self.points)

    # --- reasoning ------------------------------------------------------------------------

    def quiet_window(self, span: Span) -> tuple[float, float]:
        """(lo, hi): a call ending before ``hi`` that starts after ``span`` ended, or one
        starting after ``lo`` that ends before ``span`` starts, has surely no release
        between it and ``span``."""
        lo, hi = self.horizon, INF
        ends = self.points.ends
        at = bisect_left(ends, span.start)
        if at < len(ends):
            hi = ends[at]                  # the first one-line release at or after it
        at = bisect_right(ends, span.end)
        if at > 0:
            lo = max(lo, ends[at - 1])     # the last one-line release at or before it
        for r in (*self.spans, *self.points.odd):
            if r.span.end >= span.start and r.span.start < hi:
                hi = r.span.start
            if r.span.start <= span.end and r.span.end > lo:
                lo = r.span.end
        if span.start <= self.horizon:
            hi = -INF  # releases before the horizon are forgotten
        return lo, hi

    def free_point(self, fd: int, use: Span) -> Span | None:
        """The last call before ``use`` after which ``fd`` was surely free."""
        found = [span for span in (self.frees.get(fd), self.frees_all) if span is not None]
        found += [r.span for r in self.range_frees if r.first <= fd <= r.last]
        found = [span for span in found if span.start < use.start]
        if not found:
            return None
        best = max(found, key=lambda span: span.start)
        return None if best.start <= self.horizon else best

    def creators_of(self, fd: int, use: Span) -> list[Creator] | None:
        """FEATURE calls that may have created ``fd`` first used at ``use`` (None: cannot
        tell — no free point, or too many calls to weigh)."""
        free = self.free_point(fd, use)
        if free is None:
            return None
        window = [c for c in self.creators.ending_after(free.start) if c.span.start < use.end]
        if len(window) > MAX_CANDIDATES:
            return None
        if window and not self.allocs.odd:
            # _fits_allocs's shortcut for every creator at once: its floor only grows with
            # the creator's end, so when it holds for the earliest end it holds for all
            ends = self.allocs.ends
            if not ends or ends[-1] <= self._floor(min(c.span.end for c in window)):
                return window
        return [c for c in window if self._fits_allocs(c, fd)]

    def _floor(self, end: float) -> float:
        """The latest one-line release up to ``end``, or the horizon if later."""
        points = self.points.ends
        at = bisect_right(points, end)
        return max(self.horizon, points[at - 1]) if at else self.horizon

    def _fits_allocs(self, creator: Creator, fd: int) -> bool:
        """Lowest-free order against the visible allocations of the table."""
        span = creator.span
        allocs = self.allocs
        if not allocs.odd:
            # the common case, no allocation since the creator's last release: the two
            # tests below only look at allocations ending after the window's lo (at least
            # the last one-line release up to span.end, and the horizon), and none does
            ends = allocs.ends
            if not ends or ends[-1] <= self._floor(span.end):
                return True
        return self._fits_allocs_in_window(span, fd)

    def _fits_allocs_in_window(self, span: Span, fd: int) -> bool:
        """:meth:`_fits_allocs` without its shortcut: the allocations around the
        creator's quiet window, both ways."""
        lo, hi = self.quiet_window(span)
        if hi > span.end:
            for a in self.allocs.ending_after(span.end, hi):
                if span.before(a.span) and a.span.end < hi and not fd < a.fd:
                    return False
        if lo < span.start:
            for a in self.allocs.ending_after(lo, span.start):
                if a.lowest and a.span.before(span) and a.span.start > lo and not a.fd < fd:
                    return False
        return True

    def owner(self, fd: int, use: Span) -> tuple[bool, str | None, list[Creator] | None]:
        """(decided?, device, creators) for a data fd first used at ``use``.

        ``decided`` is False when the history cannot answer (then other hints may be
        tried); (True, None) means the history shows more than one possible device.
        ``creators`` are the subject's possible creators (kept for later questions).
        """
        if self.blind is not None:
            return False, None, None
        own = self.creators_of(fd, use)
        if own is None:
            return False, None, None
        if len({c.device for c in own}) == 1 and own[0].device is not None:
            return True, own[0].device, own  # the other data fds cannot widen this
        peers: list[tuple[int, list[Creator]]] = []
        mine = {id(c) for c in own}
        for earlier in self.data:
            if earlier.creators is None or earlier.use.end <= self.horizon:
                continue  # an unexplained peer adds no constraint (sound to drop)
            if not earlier.creators:
                return False, None, own  # the history contradicts itself: trust nothing
            if any(id(c) in mine for c in earlier.creators):
                # (a peer sharing no possible creator rarely matters; dropping is sound)
                peers.append((earlier.fd, earlier.creators))
        if peers:
            devices = _possible_devices(self, (fd, own), peers)
        else:
            # no other data fd constrains it: each possible creator alone is an answer
            # (what the search finds too, at most len(own) <= MAX_CANDIDATES nodes)
            devices = {c.device for c in own}
        if devices is None:
            return False, None, own
        if len(devices) == 1:
            (only,) = devices
            return True, only, own
        return True, None, own


def _possible_devices(log: OrderLog, subject: tuple[int, list[Creator]],
                      peers: list[tuple[int, list[Creator]]]) -> set[str | None] | None:
    """Devices of the subject's creator over all consistent assignments.

    Stops early once two devices are possible; None when the search budget ran out.
    """
    fds = [subject, *sorted(peers, key=lambda p: len(p[1]))]
    windows: dict[int, tuple[float, float]] = {}   # a creator's quiet window, once asked
    chosen: list[Creator] = []
    devices: set[str | None] = set()
    nodes = 0

    def window(creator: Creator) -> tuple[float, float]:
        found = windows.get(id(creator))
        if found is None:
            found = windows[id(creator)] = log.quiet_window(creator.span)
        return found

    def consistent(index: int, creator: Creator) -> bool:
        fd = fds[index][0]
        for other_index, other in enumerate(chosen):
            if other is creator:
                return False  # one FEATURE call creates at most one fd
            other_fd = fds[other_index][0]
            if other.span.before(creator.span) and creator.span.end < window(other)[1]:
                if not other_fd < fd:
                    return False
            elif creator.span.before(other.span) and other.span.end < window(creator)[1]:
                if not fd < other_fd:
                    return False
        return True

    def search(index: int) -> None:
        nonlocal nodes
        if index == len(fds):
            devices.add(chosen[0].device)
            raise _Found
        for creator in fds[index][1]:
            if index == 0 and creator.device in devices:
                continue  # already known possible: look for another device
            nodes += 1
            if nodes > MAX_NODES:
                raise _Budget
            if consistent(index, creator):
                chosen.append(creator)
                try:
                    search(index + 1)
                except _Found:
                    if index != 0:
                        raise
                    if len(devices) > 1:
                        return
                finally:
                    chosen.pop()

    try:
        search(0)
    except _Budget:
        return None
    return devices


class _Found(Exception):
    """One consistent assignment completed: unwind to try the subject's next creator."""


class _Budget(Exception):
    """The search grew too big: the answer is unknown."""
