"""Reading sets as states of a lazily built automaton, so a long trace repeats cached steps.

A device's set of readings (:class:`~vfio_migcheck.checker.config.Config`) differs from one
loop of a trace to the next only in names: the identities of data files (a new one for every
session) and the lines where sessions started. :class:`Readings` splits a set into a
canonical :class:`Node` — the set with those names replaced by slots — and a *binding*, the
concrete file identities and lines of the slots. Two sets with the same node behave alike up
to renaming, so the engine's step ``(node, abstract event) -> node`` is computed once per
pair (:class:`Transition`) and later replayed by renaming only: the cost of a cached event
does not depend on how many readings there are.

Nothing here decides anything about the uAPI: transitions are computed by the engine on the
concrete readings the first time and stored only when they are truly name-independent.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from vfio_migcheck.checker.config import RETIRED_FILE, Config, make_config, make_session
from vfio_migcheck.checker.describe import state_order

#: slot of the event's own file in an abstract event when the node does not hold it (-1:
#: the last item of the input's files with the event's file appended, see :func:`rename`)
NEW_FILE = -1
#: slot of RETIRED_FILE in a canonical key: one name for every closed session's file, so it
#: takes no slot of the binding and never tells two nodes apart
RETIRED_SLOT = -2
#: line source of a transition: the line of the event itself
CURRENT_LINE = -1
#: cached steps kept before the cache starts afresh: a trace that never repeats itself (so
#: whose every step is new) must not keep every reading set it went through
MAX_CACHED = 200_000
#: readings held by the table's nodes before it starts afresh: near the bound on readings
#: (512 per device) every step can make a new large node, and keeping them all cost
#: hundreds of MB on a few thousand lines of hidden-payload strace
MAX_HELD_READINGS = 50_000


class Node:
    """One canonical reading set: its key (configs with slots for names) and cached facts."""

    __slots__ = ("key", "size", "nfiles", "nlines", "trans", "binds", "_summary", "__weakref__")

    def __init__(self, key: tuple, nfiles: int, nlines: int) -> None:
        self.key = key
        self.size = len(key)
        self.nfiles = nfiles
        self.nlines = nlines
        # cached steps by key; the engine's fast paths also file aliases here (a bool:
        # whether a data run's shape is a quiet self-loop; runs._ALIAS)
        self.trans: dict[Any, Transition | bool | None] = {}
        self.binds: dict[tuple[int, int], bool] = {}
        self._summary: Summary | None = None

    @property
    def summary(self) -> Summary:
        if self._summary is None:
            self._summary = Summary.of(self.key)
        return self._summary


@dataclass(frozen=True)
class Summary:
    """What the engine's bookkeeping asks of a reading set on every event, by slot."""

    states: frozenset[str]
    sorted_states: tuple[str, ...]       # by the reports' state order
    flags: frozenset[int]
    first_dead: tuple[int, ...]          # file slots dead in the first reading
    dead_everywhere: frozenset[int]      # file slots dead in every reading, live in none
    live: frozenset[int]                 # file slots bound to some reading's session
    stop_copy_files: tuple[int, ...]     # session file slots, in reading order (may repeat)
    by_file: dict[int, tuple[tuple[int | None, ...], frozenset[str], frozenset[str]]] = \
        field(default_factory=dict)      # slot -> (created-line slots, kinds, states)

    @staticmethod
    def of(key: tuple) -> Summary:
        states = frozenset(c[1] for c in key)
        flags = frozenset(c[0] for c in key)
        live = frozenset(c[2][1] for c in key if c[2] is not None and _bound(c[2][1]))
        first_dead = tuple(sorted(key[0][3])) if key else ()
        dead_everywhere = frozenset(
            s for s in first_dead if s not in live and all(s in c[3] for c in key))
        stop_copy = tuple(c[2][1] for c in key if c[2] is not None and _bound(c[2][1]))
        by_file: dict[int, tuple[list, set, set]] = {}
        for c in key:
            s = c[2]
            if s is None or not _bound(s[1]):
                continue
            lines, kinds, sts = by_file.setdefault(s[1], ([], set(), set()))
            lines.append(s[8])
            kinds.add(s[0])
            sts.add(c[1])
        return Summary(states, tuple(sorted(states, key=state_order)), flags, first_dead,
                       dead_everywhere, live, stop_copy,
                       {f: (tuple(v[0]), frozenset(v[1]), frozenset(v[2]))
                        for f, v in by_file.items()})


def _bound(slot: int | None) -> bool:
    """Is a session's file slot a name of the binding (not "fd not seen", not retired)?"""
    return slot is not None and slot >= 0


@dataclass(frozen=True)
class Transition:
    """A cached step: the successor node, where its names come from, and what it reports.

    ``files``/``lines``: for each slot of ``node``, the slot of the input it renames, or
    NEW_FILE (the event's file) / CURRENT_LINE (the event's line).
    """

    node: Node
    files: tuple[int, ...]
    lines: tuple[int, ...]
    result: Any                          # the engine's name-independent part of the step
    #: the names are those of the input, in the same order (most steps): nothing to rename
    same_files: bool = False
    same_lines: bool = False
    #: both of the above: the successor keeps the input's binding as it is
    same_names: bool = False

    @staticmethod
    def make(before: Node, node: Node, files: tuple[int, ...], lines: tuple[int, ...],
             result: Any) -> Transition:
        same_files = files == tuple(range(before.nfiles))
        same_lines = lines == tuple(range(before.nlines))
        return Transition(node, files, lines, result, same_files, same_lines,
                          same_files and same_lines)


class Readings:
    """A device's reading set: concrete configs, a (node, binding) pair, or both (lazily)."""

    __slots__ = ("node", "files", "lines", "_configs")

    def __init__(self, node: Node | None, files: tuple[str, ...], lines: tuple[int, ...],
                 configs: list[Config] | None = None) -> None:
        self.node = node
        self.files = files
        self.lines = lines
        self._configs = configs

    @classmethod
    def of(cls, configs: list[Config]) -> Readings:
        return cls(None, (), (), configs)

    @property
    def configs(self) -> list[Config]:
        if self._configs is None:
            self._configs = materialize(self.node, self.files, self.lines)  # type: ignore
        return self._configs

    def __len__(self) -> int:
        return self.node.size if self.node is not None else len(self._configs)  # type: ignore


class Automaton:
    """The engine's table of canonical nodes (one per engine, built as the trace is read)."""

    def __init__(self) -> None:
        self.nodes: dict[tuple, Node] = {}
        self.misses = 0
        self.hits = 0
        self.cached = 0      # transitions stored since the last fresh start
        self.held = 0        # readings held by the nodes of the table
        #: fresh starts so far: what was learnt of the old nodes (the engine's memory of
        #: whole stretches, Engine._stretch_walk) is forgotten with them
        self.generation = 0

    def remember(self, node: Node, key: Any, trans: Transition) -> None:
        """Store a computed step (starting afresh past MAX_CACHED)."""
        if self.cached >= MAX_CACHED:
            self.start_afresh()
        node.trans[key] = trans
        self.cached += 1

    def start_afresh(self) -> None:
        """Forget every node and step: the next steps are computed again (same results)."""
        for old in self.nodes.values():
            old.trans.clear()
            old.binds.clear()
        self.nodes.clear()
        self.cached = 0
        self.held = 0
        self.generation += 1

    def intern(self, readings: Readings) -> Node:
        """The node of ``readings`` (computed from its configs the first time)."""
        node = readings.node
        if node is None:
            files, lines = _names(readings.configs)
            node = self.node_for(readings.configs, files, lines)
            readings.node, readings.files, readings.lines = node, files, lines
        return node

    def node_for(self, configs: list[Config], files: tuple[str, ...],
                 lines: tuple[int, ...]) -> Node:
        key = canonical_key(configs, {f: i for i, f in enumerate(files)},
                            {n: i for i, n in enumerate(lines)})
        node = self.nodes.get(key)
        if node is None:
            if self.held + len(key) > MAX_HELD_READINGS:
                self.start_afresh()
            node = self.nodes[key] = Node(key, len(files), len(lines))
            self.held += node.size
        return node


def _names(configs: list[Config]) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """File identities and session lines of a set, in order of first mention."""
    files: dict[str, None] = {}
    lines: dict[int, None] = {}
    named: set[frozenset[str]] = {frozenset()}   # file sets mentioned already
    for c in configs:
        s = c.session
        if s is not None:
            if s.file is not None and s.file != RETIRED_FILE:
                files[s.file] = None
            if s.created_line is not None:
                lines[s.created_line] = None
        dead, foreign = c.dead, c.foreign
        if dead not in named:
            named.add(dead)
            files.update(dict.fromkeys(sorted(dead)))
        if foreign not in named:
            named.add(foreign)
            files.update(dict.fromkeys(sorted(foreign)))
    return tuple(files), tuple(lines)


_NO_SLOTS: frozenset[int] = frozenset()


def canonical_key(configs: list[Config], fslot: dict[str, int], lslot: dict[int, int]) -> tuple:
    """The configs with file identities and lines replaced by their slots (KeyError when a
    name has no slot). Every field takes part, also those equality ignores.

    The readings of a set share their sessions and file sets (replayed outcomes are
    interned), so each distinct one is translated once per call."""
    sessions: dict[int, tuple | None] = {}
    slots: dict[frozenset[str], frozenset[int]] = {frozenset(): _NO_SLOTS}
    slot_of = fslot.__getitem__
    out = []
    for c in configs:
        s = c.session
        if s is None:
            skey = None
        else:
            skey = sessions.get(id(s))
            if skey is None:
                skey = sessions[id(s)] = (
                    s.kind, _file_slot(s.file, fslot), s.fd, s.eof, s.moved, s.closed,
                    s.failed_commit, s.opaque,
                    None if s.created_line is None else lslot[s.created_line],
                    s.precopy_zero_reported)
        dead = slots.get(c.dead)
        if dead is None:
            dead = slots[c.dead] = frozenset(map(slot_of, c.dead))
        foreign = slots.get(c.foreign)
        if foreign is None:
            foreign = slots[c.foreign] = frozenset(map(slot_of, c.foreign))
        out.append((c.flags, c.state, skey, dead, c.ghost, c.queried, c.logging, foreign))
    return tuple(out)


def _file_slot(file: str | None, fslot: dict[str, int]) -> int | None:
    if file is None:
        return None
    return RETIRED_SLOT if file == RETIRED_FILE else fslot[file]


def _file_name(slot: int | None, files: tuple[str, ...]) -> str | None:
    if slot is None:
        return None
    return RETIRED_FILE if slot == RETIRED_SLOT else files[slot]


def materialize(node: Node, files: tuple[str, ...], lines: tuple[int, ...]) -> list[Config]:
    """The concrete configs of a node under a binding."""
    out = []
    named: dict[frozenset[int], frozenset[str]] = {}   # each slot set named once
    name_of = files.__getitem__
    for flags, state, skey, dead, ghost, queried, logging, foreign in node.key:
        session = None
        if skey is not None:
            kind, f, fd, eof, moved, closed, failed, opaque, ln, pzr = skey
            session = make_session(kind, _file_name(f, files), fd, eof, moved, closed,
                                   failed, opaque, None if ln is None else lines[ln], pzr)
        dead_files = named.get(dead)
        if dead_files is None:
            dead_files = named[dead] = frozenset(map(name_of, dead))
        foreign_files = named.get(foreign)
        if foreign_files is None:
            foreign_files = named[foreign] = frozenset(map(name_of, foreign))
        out.append(make_config(flags, state, session, dead_files, ghost, queried, logging,
                               foreign_files))
    return out


def rename(files: tuple[str, ...], lines: tuple[int, ...], trans: Transition,
           event_file: str | None, line: int) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """The binding after a cached transition.

    NEW_FILE and CURRENT_LINE are both -1, the last item of the input's names with the
    event's own appended, so every slot is one index (looked up without a Python loop)."""
    if trans.same_names:
        return files, lines
    new_files = files if trans.same_files else \
        tuple(map((files + (event_file,)).__getitem__, trans.files))  # type: ignore
    new_lines = lines if trans.same_lines else \
        tuple(map((lines + (line,)).__getitem__, trans.lines))
    return new_files, new_lines


def successor_names(before_files: tuple[str, ...], before_lines: tuple[int, ...],
                    after: list[Config], event_file: str | None, line: int,
                    ) -> tuple[tuple[str, ...], tuple[int, ...], tuple[int, ...],
                               tuple[int, ...]] | None:
    """Names of a computed successor set, each traced to an input slot or to the event.

    Returns (files, lines, file sources, line sources), or None when the successor holds a
    name that neither the input nor the event explains (then the step is not cached).
    """
    names, nums = _names(after)
    fpos = {f: i for i, f in enumerate(before_files)}
    lpos = {n: i for i, n in enumerate(before_lines)}
    if line in lpos:
        return None  # the event's line is also an input line: the relation is not in the key
    fsrc = _sources(names, fpos, event_file, NEW_FILE)
    lsrc = _sources(nums, lpos, line, CURRENT_LINE)
    if fsrc is None or lsrc is None:
        return None
    # keep the input's order so that a repeated loop reaches the same nodes again
    order = sorted(range(len(names)), key=lambda i: (fsrc[i] == NEW_FILE, fsrc[i]))
    lorder = sorted(range(len(nums)), key=lambda i: (lsrc[i] == CURRENT_LINE, lsrc[i]))
    return (tuple(names[i] for i in order), tuple(nums[i] for i in lorder),
            tuple(fsrc[i] for i in order), tuple(lsrc[i] for i in lorder))


def _sources(names: Iterable, positions: dict, event_name: Any, event_slot: int
             ) -> list[int] | None:
    """Where each name comes from: its input slot, or ``event_slot`` for the event's own
    name; None when a name comes from neither."""
    out: list[int] = []
    for name in names:
        if name in positions:
            out.append(positions[name])
        elif name == event_name:
            out.append(event_slot)
        else:
            return None
    return out
