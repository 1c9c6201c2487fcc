"""Whole stretches of a dense strace loop replayed at once (``EventBatch``; only check_trace
makes them).

Code moved as it was out of engine.py: :class:`StretchWalk` is a mixin of
:class:`~vfio_migcheck.checker.engine.Engine` with the walk down learnt stretches
(:meth:`StretchWalk._stretch_walk`), the learning and applying of a stretch, the memory it
walks (:class:`_Stretch`, :class:`_Walk`) and its bounds. It is a layer of its own over the
engine's silent lanes: ``feed_one`` hands it a reader's batch, it feeds the events it does
not take back through ``feed_one``, and the lanes tell it what a step did on its tape
(``_tape``). Why a learnt stretch is exact: docs/checking.md.
"""

from __future__ import annotations

from collections.abc import Sequence

from vfio_migcheck.checker import engine_shared
from vfio_migcheck.checker import transitions as T
from vfio_migcheck.checker.automaton import Readings, rename
from vfio_migcheck.checker.config import Config
from vfio_migcheck.checker.engine_shared import (
    _K_HIDDEN,
    _K_SHARED,
    _K_SILENT,
    _UNSEEN,
    DeviceTrack,
    Held,
    Step,
    _maybe_mine,
)
from vfio_migcheck.checker.rules.vmm import u020_foreign_ioctl_on_data_fd as U020
from vfio_migcheck.traces.events import (
    UNKNOWN,
    DataClose,
    DataFcntl,
    DataIO,
    DataIoctl,
    DataPoll,
    DataSeek,
    DeviceAccess,
    Event,
    FdAppeared,
    FeatureCall,
    PrecopyInfo,
)

#: bound by assignment, not imported: CPython 3.11 compiles a method call on a name bound by
#: an import (``_PAYLOAD_FIELDS.get(cls)``) as an attribute load and a call, which makes a
#: bound method every time; on any other global name as a method call (LOAD_METHOD)
_PAYLOAD_FIELDS = engine_shared._PAYLOAD_FIELDS

#: events one stretch walk takes at most before it applies them (the depth of a learnt path)
MAX_STRETCH = 64
#: learnt stretch nodes kept before the memory starts afresh
MAX_STRETCH_NODES = 50_000
#: events fed one by one after a state no stretch may start from (a statistic a lane would
#: record, a held finding, ...) before a stretch is tried again: such states last
STRETCH_BACK_OFF = 16
#: the event classes a stretch takes on a file no device owns (on_data and on_fd_appeared)
_STRETCH_DATA = frozenset({DataIO, DataSeek, DataPoll, PrecopyInfo, DataIoctl, DataFcntl,
                           DataClose, FdAppeared})


class StretchWalk:
    """The engine's walk down learnt stretches (a mixin of ``Engine``: its methods read and
    change the engine's state and call its lanes through ``self``)."""

    # --- whole stretches of cached silent steps (EventBatch; only check_trace makes them) ---
    #: what a step being learnt did, filled by the silent lanes (see _stretch_learn)
    _tape: list[tuple] | None = None
    #: learnt stretches by the state they start from (see _stretch_walk)
    _stretch_roots: dict[tuple, _Stretch] | None = None
    _stretch_nodes = 0                      # stretch nodes learnt since the last fresh start
    _stretch_generation = 0                 # the automaton's generation they were learnt in
    stretch_hits = 0                        # events applied as parts of a learnt stretch
    _stretch_wait = 0                       # events fed before a stretch is tried again

    def _on_batch(self, events: Sequence[Event]) -> None:
        """A reader's batch of consecutive events: walked in stretches
        (:meth:`_stretch_walk`), any event no stretch takes fed on its own."""
        if not self.fast:
            for event in events:
                self.feed_one(event)
            return
        index, count = 0, len(events)
        wait = self._stretch_wait
        while index < count:
            event = events[index]
            if wait:
                wait -= 1
            elif event.ts is None and event.tid is not None and not self._retiring:
                end = self._stretch_walk(events, index)
                if end > index:
                    index = end
                    continue
                if end < 0:          # a state no stretch starts from: look again later
                    wait = STRETCH_BACK_OFF
            self.feed_one(event)
            index += 1
        self._stretch_wait = wait

    def _stretch_walk(self, events: Sequence[Event], start: int) -> int:
        """Walk the events from ``start`` down the stretches learnt from the engine's
        present state: each event's abstract key (what the silent lanes decide by) picks
        the next node, and the last node reached holds the whole effect of the events
        walked (readings, held events, undecided rules, files noted and retiring,
        counters), applied at once. From the first event not learnt yet on, events are
        fed one by one while their effect is learnt. Returns where the walk ended
        (``start``: nothing done, nothing changed; -1: nothing done, and the engine's
        state is one no stretch starts from). Why it is exact: docs/checking.md."""
        root = self._stretch_root(events[start])
        if root is None:
            return -1
        node, walk = root
        limit = min(len(events), start + MAX_STRETCH)
        index = start
        key = None
        keyed = self._stretch_key
        while index < limit:
            key = keyed(events[index], walk)
            if key is None:
                break
            child = node.children.get(key)
            if child is None:
                break
            node = child
            index += 1
        if index > start:
            self._stretch_apply(node, events, start, index, walk)
        while key is not None and index < limit:
            learnt = self._stretch_learn(events, start, index, key, node, walk)
            index += 1
            if learnt is None:
                break
            node = learnt
            key = keyed(events[index], walk) if index < limit else None
        return index

    def _stretch_root(self, first: Event) -> tuple[_Stretch, _Walk] | None:
        """The learnt stretches from the present state, and the walk's names, or None when
        a stretch may not start here: a state the silent lanes' effects would not be all
        of (a held finding, a QEMU pin, a statistic the lanes would record, a file being
        retired, a reading set without its node, a call of another thread held)."""
        tid = first.tid
        if tid is None or self._retiring:
            return None
        automaton = self.automaton
        roots = self._stretch_roots
        if roots is None or automaton.generation != self._stretch_generation \
                or self._stretch_nodes > MAX_STRETCH_NODES:
            roots = self._stretch_roots = {}
            self._stretch_generation = automaton.generation
            self._stretch_nodes = 0
        token_of: dict[str | None, int] = {None: 0}
        names: list[str | None] = [None]
        lines: list[int] = [0]
        parts = []
        tracks = []
        starts = []
        refs = self._refs
        for track in self.devices.values():
            readings = track.readings
            node = readings.node
            held = track.held
            stats = track.stats
            if node is None or track.pin is not None or track.pid is None \
                    or not track.payload_hidden or not track.migration_seen \
                    or (held is not None and (held.findings or held.event.tid != tid)) \
                    or stats.recording or stats.sessions or stats.unended:
                return None
            slots = []
            for name in readings.files:
                token = token_of.get(name)
                if token is None:
                    token = token_of[name] = len(names)
                    names.append(name)
                slots.append(token)
            base = len(lines)
            lines.extend(readings.lines)
            ftoks = tuple(slots)
            profile = track.profile
            if id(profile) not in refs:     # as the lanes' _ref
                refs[id(profile)] = profile
            parts.append((track.name, node, ftoks, track.unsure_start, id(profile),
                          track.qemu_traced))
            tracks.append(track)
            starts.append((node, ftoks, tuple(range(base, base + len(readings.lines)))))
        if not tracks:
            return None
        shared = self._data_profile("") if len(tracks) > 1 else None
        key = (tid, tuple(parts), id(shared))
        node = roots.get(key)
        if node is None:
            node = roots[key] = _Stretch(0, tuple(starts), (None,) * len(tracks),
                                         ((),) * len(tracks), (), (), (0, 0, 0))
            self._stretch_nodes += 1
        return node, _Walk(tid, node, tracks, token_of, names, lines)

    def _stretch_key(self, event: Event, walk: _Walk) -> tuple | None:
        """The event's abstract key in a stretch, or None for an event no stretch takes:
        everything of the event and of the engine's state (beyond the walk's start and
        the keys before it) that the silent lanes, and feed_one around them, decide by.
        A data event's file is named by the walk's token for it (the same file, the same
        token), with, where the walk meets it first, what the engine noted of it."""
        if event.tid != walk.tid or event.ts is not None:
            return None
        cls = type(event)
        if cls is FeatureCall:
            getter = _PAYLOAD_FIELDS.get(cls)
            if event.op is not UNKNOWN or getter is None or event.device not in self.devices \
                    or isinstance(event.raw_flags, int):   # type: ignore[attr-defined]
                return None
            return cls, getter(event)
        if cls is DeviceAccess:
            if event.device not in self.devices:   # type: ignore[attr-defined]
                return None
            return cls, event.device, event.call   # type: ignore[attr-defined]
        if cls not in _STRETCH_DATA:
            return None
        file = event.file  # type: ignore[attr-defined]
        fd = event.fd  # type: ignore[attr-defined]
        token = walk.token_of.get(file)
        first = None
        if token is None or token not in walk.fds:   # the walk meets the file first
            if file in self.devices or file in self.file_device:
                return None
            known = self._file_fds.get(file, _UNSEEN)
            if known is _UNSEEN:
                status = 0
                known = fd
            elif known is None:
                status = 2
            elif known == fd:
                status = 1
            else:
                return None
            if token is None:
                token = walk.token_of[file] = len(walk.names)
                walk.names.append(file)
            walk.fds[token] = known
            first = (status, status == 0 or self._file_forks.get(file) == self._forked)
        else:
            known = walk.fds[token]
            if known is not None and known != fd:
                return None       # (_note_file would forget its fd)
        if cls is FdAppeared:
            hint = event.device_hint  # type: ignore[attr-defined]
            if (isinstance(hint, str) and hint in self.devices) or (
                    event.after_feature is not None  # type: ignore[attr-defined]
                    and len(self.devices) == 1):
                return None
            return cls, token, fd, first
        getter = _PAYLOAD_FIELDS.get(cls)
        if getter is None:
            return None
        return cls, token, getter(event), first

    def _stretch_learn(self, events: Sequence[Event], start: int, index: int, key: tuple,
                       node: _Stretch, walk: _Walk) -> _Stretch | None:
        """Feed the event as usual and, when all it did was one silent lane's step (and
        feed_one's notes around it), learn the stretch ``node`` extended by it: the
        effect of the step on the walk's names. None when it did anything else (the
        event is fed either way)."""
        event = events[index]
        tracks = walk.tracks
        file = getattr(event, "file", None)
        retiring = self._retiring
        retires = []
        if retiring:
            if len(retiring) > 1 or file in retiring:
                self.feed_one(event)
                return None
            (gone,) = retiring
            for at, track in enumerate(tracks):
                readings = track.readings
                if gone in readings.files:
                    retires.append((at, readings.node, (
                        "retire", readings.files.index(gone), self._unnoticed(track, gone))))
        generation = self.automaton.generation
        hits = self.automaton.hits
        tape: list[tuple] = []
        self._tape = tape
        try:
            self.feed_one(event)
        finally:
            self._tape = None
        if self.automaton.generation != generation or not tape:
            return None
        cls = type(event)
        at_of = {id(track): at for at, track in enumerate(tracks)}
        kinds = {entry[0] for entry in tape}
        if cls is FeatureCall:
            if kinds != {_K_HIDDEN} or len(tape) != 1 or tape[0][2].node.size == 0:
                return None
        elif cls is DeviceAccess:
            if kinds != {_K_SILENT} or len(tape) != 1:
                return None
        elif kinds != {_K_SHARED} or not all(entry[4] for entry in tape):
            return None
        if self.automaton.hits - hits != len(tape):
            return None
        depth = node.depth
        if depth != index - start:
            return None
        line = walk.lbase + depth
        states = list(node.tracks)
        held = list(node.held)
        undecided = list(node.undecided)
        for at, before, rkey in retires:
            trans = before.trans.get(rkey)
            now = states[at]
            if trans is None or now[0] is not before:
                return None
            states[at] = (trans.node, *rename(now[1], now[2], trans, 0, 0))  # type: ignore
        ftoken = walk.token_of[file] if file is not None else 0
        enabled = self.enabled
        for kind, track, trans, cache_key, _stable in tape:
            at = at_of[id(track)]
            now = states[at]
            states[at] = (trans.node, *rename(now[1], now[2], trans,  # type: ignore
                                               ftoken, line))
            held[at] = (depth, kind, cache_key, now)
            rules = tuple((depth, rule) for rule in trans.result.undecided
                          if enabled(rule.id))
            if rules:
                undecided[at] = undecided[at] + rules
        # what the engine noted of files: checked against what feed_one did
        names = walk.names
        files = node.files
        first = key[3] if len(key) > 3 else None
        if first is not None and first[0] == 0:
            fd = event.fd  # type: ignore[attr-defined]
            if self._file_fds.get(file) != fd or self._file_forks.get(file) != self._forked:
                return None
            files = (*files, (ftoken, fd))
        token_of = walk.token_of
        if any(name not in token_of for name in self._retiring):
            return None
        gone_now = tuple(token_of[name] for name in self._retiring)
        # the learnt effect must give the very state feed_one left
        pool = [*walk.lines, *(e.origin.line for e in events[start:index + 1])]
        for at, track in enumerate(tracks):
            readings = track.readings
            sym = states[at]
            if readings.node is not sym[0] \
                    or readings.files != tuple(names[t] for t in sym[1]) \
                    or readings.lines != tuple(pool[t] for t in sym[2]):
                return None
        counts = node.counts
        hidden = counts[1] + (cls is FeatureCall)
        shared = counts[2] + (kinds == {_K_SHARED})
        learnt = _Stretch(depth + 1, tuple(states), tuple(held), tuple(undecided), files,
                          gone_now, (counts[0] + len(tape), hidden, shared))
        node.children[key] = learnt
        self._stretch_nodes += 1
        return learnt

    def _stretch_apply(self, node: _Stretch, events: Sequence[Event], start: int, end: int,
                       walk: _Walk) -> None:
        """What feeding ``events[start:end]`` one by one would leave, from the learnt
        stretch ``node`` they walked to: each device's readings and held event, the
        undecided rules at their lines, the files noted and the one being retired, the
        counters."""
        names = walk.names
        name_of = names.__getitem__
        lines = [*walk.lines, *(e.origin.line for e in events[start:end])]
        line_of = lines.__getitem__
        for track, sym, first, held, undecided in zip(walk.tracks, node.tracks,
                                                      walk.root.tracks, node.held,
                                                      node.undecided):
            if sym is not first:      # (else no step of the stretch changed its readings)
                track.readings = Readings(sym[0], tuple(map(name_of, sym[1])),
                                          tuple(map(line_of, sym[2])))
            if held is None:
                continue          # (no step of the stretch was this device's)
            at, kind, cache_key, before = held
            event = events[start + at]
            track.held = Held(event, self._stretch_step(kind, event, track),
                              cache_key, Readings(before[0], tuple(map(name_of, before[1])),
                                                  tuple(map(line_of, before[2]))), ())
            if undecided:
                kept = track.undecided
                for at, rule in undecided:
                    if len(kept) < 1000:
                        kept.append((line_of(walk.lbase + at), rule))
        forked = self._forked
        for token, fd in node.files:
            name = names[token]
            self._file_fds[name] = fd
            self._file_forks[name] = forked
        for token in node.retiring:
            self._retiring.add(names[token])  # type: ignore[arg-type]
        hits, hidden, shared = node.counts
        self.automaton.hits += hits
        self.hidden_hits += hidden
        self.shared_hits += shared
        self.stretch_hits += end - start
        self.events += end - start
        self.last_origin = events[end - 1].origin

    def _stretch_step(self, kind: int, event: Event, track: DeviceTrack) -> Step:
        """The step a silent lane holds with ``event`` (made again for the last event of
        a device in an applied stretch: only a swap with an overlapping successor asks)."""
        if kind == _K_HIDDEN:
            spec, line, no_set = self.spec, event.origin.line, track.qemu_traced

            def step(c: Config) -> list[T.Outcome]:
                return T.step_hidden_feature(c, spec, event, line, None,  # type: ignore
                                             no_set)
            return step
        if kind == _K_SILENT:         # a device access (on_access)
            call = event.call  # type: ignore[attr-defined]
            misdirected = U020.check_device_call(call)
            if misdirected is not None:
                tag = T.Tag(U020.RULE, misdirected)
                return lambda c: [T.ok(c, tag)]
            return lambda c: T.step_access(c, call)
        file, fd = event.file, event.fd  # type: ignore[attr-defined]
        if type(event) is FdAppeared:
            step: Step = lambda c: T.step_fd_appeared(c, file, fd)  # noqa: E731
        else:
            step = self._data_step(event, file, fd, self._data_profile(file))[0]
        return _maybe_mine(step, file)


class _Stretch:
    """A learnt stretch of events (a node of the memory Engine._stretch_walk walks): its
    whole effect from the state it starts at, on the walk's names. ``tracks``: each
    device's readings as (node, file tokens, line tokens); ``held``: each device's held
    event as (index in the stretch, lane, cache key, readings before it) or None;
    ``undecided``: each device's (index, rule); ``files``: (token, fd) of files first
    noted; ``retiring``: tokens of the files being retired after it; ``counts``: the
    automaton's hits, hidden and shared lane hits. File token 0 is no file; line token
    0 the line 0 a retirement renames with."""

    __slots__ = ("depth", "tracks", "held", "undecided", "files", "retiring", "counts",
                 "children")

    def __init__(self, depth: int, tracks: tuple, held: tuple, undecided: tuple,
                 files: tuple, retiring: tuple, counts: tuple[int, int, int]) -> None:
        self.depth = depth
        self.tracks = tracks
        self.held = held
        self.undecided = undecided
        self.files = files
        self.retiring = retiring
        self.counts = counts
        self.children: dict[tuple, _Stretch] = {}


class _Walk:
    """One walk's names: the devices in order, file names by token (the start's files,
    then each file the walk meets), the start's lines, and the fd each file was noted on
    (as feed_one's ``_note_file`` would have it by then)."""

    __slots__ = ("tid", "root", "tracks", "token_of", "names", "lines", "lbase", "fds")

    def __init__(self, tid: int, root: _Stretch, tracks: list[DeviceTrack],
                 token_of: dict, names: list, lines: list[int]) -> None:
        self.tid = tid
        self.root = root
        self.tracks = tracks
        self.token_of = token_of
        self.names = names
        self.lines = lines
        self.lbase = len(lines)
        self.fds: dict[int, int | None] = {}
