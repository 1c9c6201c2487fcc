"""One reading of a device: the model's state plus everything the trace has pinned so far.

A :class:`Config` is what the engine keeps a *set* of per device (SibylFS style). It is frozen
and hashable so equal readings reached along different paths collapse into one. Line numbers
and other reporting aids are excluded from equality, so they never split the set.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SAVING_STATES = frozenset({"PRE_COPY", "PRE_COPY_P2P", "STOP_COPY"})
PRECOPY_STATES = frozenset({"PRE_COPY", "PRE_COPY_P2P"})
RUNNING_STATES = frozenset({"RUNNING", "PRE_COPY"})
P2P_STATES = frozenset({"RUNNING_P2P", "PRE_COPY_P2P"})
STOPPED_STATES = frozenset({"STOP", "STOP_COPY"})
#: the file of a session whose data fd was closed and can never be named again (every fd
#: the trace opens later is a new file): which closed file it was is history, not something
#: a later event can observe, so every such session carries this one name (docs/checking.md,
#: "Readings that only history tells apart")
RETIRED_FILE = "\0closed data fd\0"


@dataclass(frozen=True)
class Session:
    """A live data session: its kind, the file bound to it (None = fd not seen yet)."""

    kind: str                       # saving | resuming | unknown
    file: str | None = None         # the event ``file`` identity of its data fd
    fd: int | None = None           # fd number from a decoded SET reply, when shown
    eof: bool = False               # read() returned 0 in STOP_COPY: permanent end
    moved: bool = False             # resuming: some bytes were accepted by write()
    closed: bool = False            # close() was called on the bound fd
    failed_commit: bool = False     # resuming: RESUMING -> STOP failed, no data since
    opaque: bool = False            # the trace cannot show this session's data I/O (QEMU log)
    created_line: int | None = field(default=None, compare=False)
    precopy_zero_reported: bool = field(default=False, compare=False)


@dataclass(frozen=True)
class Config:
    """One reading of one device: flags, state, data session and pending facts."""

    flags: int
    state: str
    session: Session | None = None
    dead: frozenset[str] = frozenset()     # files whose session has ended
    ghost: bool = False                    # a session ended before its fd was seen
    queried: bool = False                  # VFIO_DEVICE_FEATURE_MIGRATION was read
    logging: bool | None = None            # DMA dirty logging on/off, None = unknown
    foreign: frozenset[str] = frozenset()  # files this reading gave to another device

    def __hash__(self) -> int:
        # readings are hashed again and again (dedupe, memo keys): keep the hash
        cached = self.__dict__.get("_hash")
        if cached is None:
            cached = hash((self.flags, self.state, self.session, self.dead, self.ghost,
                           self.queried, self.logging, self.foreign))
            object.__setattr__(self, "_hash", cached)
        return cached

    def _with(self, state: str, session: Session | None, dead: frozenset[str],
              ghost: bool) -> Config:
        # The hot path of the engine: cheaper than replace() and the frozen __init__.
        return make_config(self.flags, state, session, dead, ghost, self.queried,
                           self.logging, self.foreign)

    def with_state(self, state: str) -> Config:
        if state == self.state:
            return self
        return self._with(state, self.session, self.dead, self.ghost)

    def end_session(self) -> Config:
        """The session ends (arc, reset or device close); its fd now answers ENODEV."""
        session = self.session
        if session is None:
            return self
        if session.file is None:
            return self._with(self.state, None, self.dead, True)
        dead = self.dead if session.closed else self.dead | {session.file}
        return self._with(self.state, None, dead, self.ghost)

    def start_session(self, kind: str, fd: int | None, line: int | None) -> Config:
        return self._with(self.state, Session(kind=kind, fd=fd, created_line=line), self.dead,
                          self.ghost)

    def with_session(self, **changes) -> Config:
        assert self.session is not None
        return evolve(self, session=evolve(self.session, **changes))

    def with_queried(self) -> Config:
        return self if self.queried else evolve(self, queried=True)

    def with_foreign(self, file: str) -> Config:
        """The reading in which ``file`` belongs to another device."""
        if file in self.foreign:   # already: the reading itself (a copy would equal it)
            return self
        return evolve(self, foreign=self.foreign | {file})

    def with_dead(self, dead: frozenset[str]) -> Config:
        return evolve(self, dead=dead)


def make_config(flags: int, state: str, session: Session | None, dead: frozenset[str],
                ghost: bool, queried: bool, logging: bool | None,
                foreign: frozenset[str]) -> Config:
    """``Config(...)`` with every field given, without the frozen dataclass's ``__init__``
    (one ``object.__setattr__`` per field; Config has no ``__post_init__``): the engine
    builds thousands of readings per hidden FEATURE call."""
    new = object.__new__(Config)
    new.__dict__.update({"flags": flags, "state": state, "session": session, "dead": dead,
                         "ghost": ghost, "queried": queried, "logging": logging,
                         "foreign": foreign})
    return new


def make_session(kind: str, file: str | None, fd: int | None, eof: bool, moved: bool,
                 closed: bool, failed_commit: bool, opaque: bool, created_line: int | None,
                 precopy_zero_reported: bool) -> Session:
    """``Session(...)`` with every field given, the way :func:`make_config` builds."""
    new = object.__new__(Session)
    new.__dict__.update({"kind": kind, "file": file, "fd": fd, "eof": eof, "moved": moved,
                         "closed": closed, "failed_commit": failed_commit, "opaque": opaque,
                         "created_line": created_line,
                         "precopy_zero_reported": precopy_zero_reported})
    return new


def evolve(obj, **changes):
    """``dataclasses.replace`` for the engine's hot path: a frozen dataclass copied with some
    fields changed, without re-running field introspection (the classes here have no
    ``__post_init__`` and no ``init=False`` fields, so the copy equals what replace makes)."""
    new = object.__new__(type(obj))
    state = new.__dict__
    state.update(obj.__dict__)
    state.update(changes)
    state.pop("_hash", None)
    state.pop("_core", None)      # a reading's hidden-call core (checker/transitions.py)
    return new
