"""The event-level semantics of one device as a z3 transition relation: FSM plus data-fd lifecycle.

Compiled from the :class:`~vfio_migcheck.model.spec.Spec` (paths and their session effects come
from the z3 encoding in ``encode.py`` via :class:`SmtOracle`, never from the graph model or the
checker) and from a :class:`Behaviour`: the choices the uAPI leaves to a driver. A driver
profile plugs in as another ``Behaviour``.

The abstract state of a device (one copy per step, :class:`LVars`):

- ``st``: the device state (an enumeration sort of the spec's states);
- the live data session, if any: ``live``, its kind ``sav`` (saving, else resuming), ``fdn``
  (the fd number a SET reply gave it: 0 when hidden, else one of :data:`FDS`), ``bound`` (a
  call on that fd has been seen), ``eof`` (``read() == 0`` in STOP_COPY), ``moved`` (resume
  data accepted), ``closed`` (``close()`` on its fd), ``fcom`` (a failed RESUMING commit with
  no data since);
- ``dead[j]``: the file now open under fd number ``j`` belongs to a session that ended;
- ``ghost``: a session ended before any call on its fd was seen (a file seen later may be it).

An event is one entry of a finite alphabet (:class:`LEvent`): SET of a state with its result
and the reply's data fd (shown or hidden), RESET, read/write/PRECOPY_INFO/close on fd 6 or 7
with a class of result, device close. :meth:`Semantics.outcomes` gives, for one event, every
outcome as a guard on the pre-state, the post-state, the behaviour rules it breaks, and the
misfit that makes it impossible (an outcome with a misfit is not a behaviour of the model).
Each outcome also carries *marks*: facts the lifecycle properties (``lifecycle_properties``)
are about, e.g. "a session was created while another was live".
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, fields, replace

import z3

from vfio_migcheck.model.smt.answers import SmtOracle
from vfio_migcheck.model.smt.encode import Encoding, all_of, any_of
from vfio_migcheck.model.spec import Spec

#: the two data-fd numbers the alphabet watches
FDS = (6, 7)
NO_FD = 0
FD_BITS = 3  # finite domains only: z3 bit-blasts the whole relation to SAT
_FD_VALUE = {j: z3.BitVecVal(j, FD_BITS) for j in (NO_FD, *FDS)}
_sort_ids = itertools.count()


@dataclass(frozen=True)
class Behaviour:
    """What the uAPI leaves to a driver: the default follows the spec and Linux 6.12's drivers.

    A driver profile (data) is turned into one of these; :meth:`from_spec` reads what the spec
    itself says (reset, failed SETs).
    """

    reset_state: str
    reset_ends_sessions: bool
    failure_anywhere_on_path: bool
    failure_may_enter_error: bool
    #: read() == 0 at PRE_COPY's temporary end (mtty, hisi, qat) besides the uAPI's ENOMSG
    precopy_end_zero_read: bool = True
    #: close_device ends every session (every 6.12 driver)
    device_close_ends_sessions: bool = True
    #: a file whose session ended still returns data (no known driver; what-if)
    dead_fd_returns_data: bool = False

    @classmethod
    def from_spec(cls, spec: Spec, **profile) -> Behaviour:
        base = cls(spec.reset_state, spec.reset_ends_sessions, spec.failure_anywhere_on_path,
                   spec.failure_may_enter_error)
        return replace(base, **profile)


# --- the alphabet ---------------------------------------------------------------------------
@dataclass(frozen=True)
class LEvent:
    """One event of the alphabet; ``line`` is its canonical trace statement."""

    def line(self, device: str) -> str:  # pragma: no cover - every subclass overrides
        raise NotImplementedError

    @property
    def label(self) -> str:
        return self.line("dev")


@dataclass(frozen=True)
class LSet(LEvent):
    """SET MIG_DEVICE_STATE ``target``: ``ok`` or not; ``data_fd`` -1, an fd, or None (hidden)."""

    target: str
    ok: bool = True
    data_fd: int | None = None

    def line(self, device: str) -> str:
        if not self.ok:
            return f"{device} SET STATE {self.target} = -1 EINVAL"
        fd = "?" if self.data_fd is None else str(self.data_fd)
        return f"{device} SET STATE {self.target} = 0 data_fd={fd}"


@dataclass(frozen=True)
class LHidden(LEvent):
    """A VFIO_DEVICE_FEATURE call whose op, feature and payload are hidden (plain strace)."""

    ok: bool = True

    def line(self, device: str) -> str:
        return f"{device} ? ? = {'0' if self.ok else '-1 EINVAL'}"


@dataclass(frozen=True)
class LGet(LEvent):
    """GET MIG_DEVICE_STATE answering ``state``."""

    state: str

    def line(self, device: str) -> str:
        return f"{device} GET STATE = 0 state={self.state}"


@dataclass(frozen=True)
class LProbe(LEvent):
    """PROBE of MIG_DEVICE_STATE: asks which ops the feature has; changes nothing."""

    def line(self, device: str) -> str:
        return f"{device} PROBE STATE GET|SET = 0"


@dataclass(frozen=True)
class LReset(LEvent):
    ok: bool = True

    def line(self, device: str) -> str:
        return f"{device} RESET = {'0' if self.ok else '-1 EINVAL'}"


@dataclass(frozen=True)
class LDevClose(LEvent):
    def line(self, device: str) -> str:
        return f"{device} close = 0"


@dataclass(frozen=True)
class LAppeared(LEvent):
    """An fd number first seen without the call that made it (how strace shows a hidden
    SET's data fd): the file may be the unbound session's, or an ended one's."""

    fd: int

    def line(self, device: str) -> str:
        return f"fd {self.fd} appeared"


READ_RESULTS = ("data", "zero", "ENOMSG", "ENODEV", "EBADF")
WRITE_RESULTS = ("data", "EBADF", "ENODEV")
INFO_RESULTS = ("ok", "EINVAL", "ENOTTY")
_RESULT_TEXT = {"data": "16", "zero": "0", "ok": "0"}


@dataclass(frozen=True)
class LData(LEvent):
    """A call on data fd ``fd``: read/write (16 bytes), precopy_info or close, with a result."""

    fd: int
    op: str            # read | write | precopy_info | close
    result: str = "ok"

    def line(self, device: str) -> str:
        res = _RESULT_TEXT.get(self.result, f"-1 {self.result}")
        if self.op in ("read", "write"):
            return f"fd {self.fd} {self.op} 16 = {res}"
        if self.op == "precopy_info":
            extra = " initial=0 dirty=0" if self.result == "ok" else ""
            return f"fd {self.fd} precopy_info = {res}{extra}"
        return f"fd {self.fd} close = 0"

    @property
    def moves_data(self) -> bool:
        return self.op in ("read", "write") and self.result == "data"


# --- the state ------------------------------------------------------------------------------
@dataclass
class LVars:
    """One copy of the abstract state (see the module docstring), as z3 terms."""

    st: z3.ExprRef
    live: z3.BoolRef
    sav: z3.BoolRef
    fdn: z3.BitVecRef
    bound: z3.BoolRef
    eof: z3.BoolRef
    moved: z3.BoolRef
    closed: z3.BoolRef
    fcom: z3.BoolRef
    ghost: z3.BoolRef
    dead: dict[int, z3.BoolRef] = field(default_factory=dict)

    def terms(self) -> list[z3.ExprRef]:
        out = [getattr(self, f.name) for f in fields(self) if f.name != "dead"]
        return out + [self.dead[j] for j in FDS]

    def equals(self, other: LVars) -> z3.BoolRef:
        return fast_and([fast_eq(a, b) for a, b in zip(self.terms(), other.terms())
                         if not a.eq(b)])

    def copy(self, **changes) -> LVars:
        dead = dict(changes.pop("dead", self.dead))
        return replace(self, dead=dead, **changes)


@dataclass
class Outcome:
    """One way an event may go from a pre-state (``guard``) to ``post``.

    ``tags``: behaviour rule id -> when this outcome breaks it; ``misfit``: rule id -> when this
    outcome is impossible in the model; ``marks``: lifecycle fact -> when it happens.
    """

    guard: z3.BoolRef
    post: LVars
    tags: dict[str, z3.BoolRef] = field(default_factory=dict)
    misfit: dict[str, z3.BoolRef] = field(default_factory=dict)
    marks: dict[str, z3.BoolRef] = field(default_factory=dict)

    @property
    def fits(self) -> z3.BoolRef:
        return z3.Not(any_of(list(self.misfit.values())))


def fast_and(terms: list[z3.BoolRef]) -> z3.BoolRef:
    """z3.And without the Python-side sort checks (the relation has thousands of these)."""
    if not terms:
        return z3.BoolVal(True)
    if len(terms) == 1:
        return terms[0]
    ctx = terms[0].ctx
    arr = (z3.Ast * len(terms))(*[t.as_ast() for t in terms])
    return z3.BoolRef(z3.Z3_mk_and(ctx.ref(), len(terms), arr), ctx)


def fast_or(terms: list[z3.BoolRef]) -> z3.BoolRef:
    """z3.Or without the Python-side sort checks."""
    if len(terms) == 1:
        return terms[0]
    ctx = terms[0].ctx
    arr = (z3.Ast * len(terms))(*[t.as_ast() for t in terms])
    return z3.BoolRef(z3.Z3_mk_or(ctx.ref(), len(terms), arr), ctx)


def fast_not(a: z3.BoolRef) -> z3.BoolRef:
    return z3.BoolRef(z3.Z3_mk_not(a.ctx.ref(), a.as_ast()), a.ctx)


def fast_eq(a: z3.ExprRef, b: z3.ExprRef) -> z3.BoolRef:
    """``a == b`` for two terms of one sort, without coercion."""
    return z3.BoolRef(z3.Z3_mk_eq(a.ctx.ref(), a.as_ast(), b.as_ast()), a.ctx)


def _add(d: dict[str, z3.BoolRef], key: str, cond) -> None:
    cond = z3.BoolVal(cond) if isinstance(cond, bool) else cond
    d[key] = any_of(d[key], cond) if key in d else cond


class Semantics:
    """The event semantics of one flag set of a spec under one :class:`Behaviour`."""

    def __init__(self, spec: Spec, flags: int, behaviour: Behaviour | None = None,
                 oracle: SmtOracle | None = None) -> None:
        self.spec = spec
        self.flags = flags
        self.behaviour = behaviour or Behaviour.from_spec(spec)
        self.oracle = oracle or SmtOracle(Encoding(spec))
        self.names = sorted(spec.states, key=lambda s: spec.states[s].value)
        self.sort, consts = z3.EnumSort(f"LState{next(_sort_ids)}", self.names)
        self.const = dict(zip(self.names, consts))
        self.usable = [n for n in self.names if n in self.oracle.flag_facts(flags)[1]]
        self.error = spec.error_state
        saving_group = set().union(*spec.groups.values()) if spec.groups else set()
        self.saving_states = sorted(s for s in saving_group if s in spec.states)
        self.precopy_states = [s for s in ("PRE_COPY", "PRE_COPY_P2P") if s in spec.states]
        self._paths: dict[tuple[str, str], tuple] = {}
        self._arcs_cache: dict[tuple, tuple] = {}

    # --- state copies ------------------------------------------------------------------------
    def fresh(self, tag: str) -> LVars:
        b = lambda n: z3.Bool(f"{n}_{tag}")  # noqa: E731 - a short local constructor
        return LVars(z3.Const(f"st_{tag}", self.sort), b("live"), b("sav"),
                     z3.BitVec(f"fdn_{tag}", FD_BITS), b("bound"), b("eof"), b("moved"),
                     b("closed"), b("fcom"), b("ghost"),
                     {j: b(f"dead{j}") for j in FDS})

    def well_formed(self, s: LVars) -> z3.BoolRef:
        """Domains and the normal form of 'no session' (so equal readings are equal)."""
        no_session = all_of(z3.Not(s.sav), s.fdn == NO_FD, z3.Not(s.bound), z3.Not(s.eof),
                            z3.Not(s.moved), z3.Not(s.closed), z3.Not(s.fcom))
        return all_of(any_of([s.fdn == v for v in (NO_FD, *FDS)]),
                      z3.Implies(z3.Not(s.live), no_session),
                      z3.Implies(s.bound, s.fdn != NO_FD))

    def initial(self, s: LVars) -> z3.BoolRef:
        """A freshly opened device: the reset state, no session, no data fd."""
        return all_of(s.st == self.const[self.spec.reset_state], z3.Not(s.live),
                      z3.Not(s.ghost), *[z3.Not(s.dead[j]) for j in FDS],
                      self.well_formed(s))

    def is_state(self, s: LVars, names) -> z3.BoolRef:
        return any_of([s.st == self.const[n] for n in names])

    # --- session effects ---------------------------------------------------------------------
    @staticmethod
    def end_session(s: LVars) -> LVars:
        """The session ends: its open file answers ENODEV from now on."""
        if z3.is_false(s.live):  # nothing to end (e.g. a second arc of one path)
            return s
        dead = {j: fast_or([fast_and([s.live, s.bound, fast_not(s.closed),
                                      fast_eq(s.fdn, _FD_VALUE[j])]), s.dead[j]])
                for j in FDS}
        false = z3.BoolVal(False)
        return LVars(s.st, false, false, _FD_VALUE[NO_FD], false, false, false, false, false,
                     fast_or([fast_and([s.live, fast_not(s.bound)]), s.ghost]), dead)

    def start_session(self, s: LVars, saving: bool, fd: int | None) -> LVars:
        ended = self.end_session(s)
        return ended.copy(live=z3.BoolVal(True), sav=z3.BoolVal(saving),
                          fdn=z3.BitVecVal(fd if fd is not None else NO_FD, FD_BITS))

    def path(self, src: str, dst: str):
        """(ok, reason, states of the chosen path, effects per arc): the path from the z3
        encoding, each arc's effect as the spec declares it."""
        key = (src, dst)
        if key not in self._paths:
            ans = self.oracle.request(self.flags, src, dst)
            chosen = ans.chosen if ans.ok else None
            effects = tuple(self._arc_effect(a, b) for a, b in zip(chosen, chosen[1:])) \
                if chosen else ()
            self._paths[key] = (ans.ok, ans.reason, chosen, effects)
        return self._paths[key]

    def _arc_effect(self, src: str, dst: str) -> str:
        """The session effect the spec declares for the arc under these flags."""
        names = self.spec.flag_names(self.flags & self.spec.all_flags_mask)
        for arc in self.spec.arcs:
            if arc.src == src and arc.dst == dst and arc.condition.holds(names):
                return arc.session
        raise ValueError(f"{src} -> {dst} is no arc under flags {self.flags:#x}")

    def apply_arcs(self, s: LVars, states, effects, fd: int | None, marks: dict) -> LVars:
        """Walk arcs with their session effects; note the facts the properties look at.

        Cached per pre-state object: SETs from one state share their paths' prefixes.
        """
        key = (id(s), tuple(states), tuple(effects), fd)
        hit = self._arcs_cache.get(key)
        if hit is None or hit[0] is not s:
            found: dict[str, z3.BoolRef] = {}
            hit = self._arcs_cache[key] = (s, self._walk(s, states, effects, fd, found), found)
        for name, cond in hit[2].items():
            _add(marks, name, cond)
        return hit[1]

    def _walk(self, s: LVars, states, effects, fd: int | None, marks: dict) -> LVars:
        for i, effect in enumerate(effects):
            a, b = states[i], states[i + 1]
            if a == "STOP_COPY" and effect == "keeps":
                _add(marks, "eof_kept", all_of(s.live, s.sav, s.eof))
            if a == "RESUMING" and not effect.startswith("ends_"):
                _add(marks, "resume_outlives", all_of(s.live, z3.Not(s.sav)))
            if effect == "ends_resuming" and a != "RESUMING":
                _add(marks, "resume_ended_elsewhere", all_of(s.live, z3.Not(s.sav)))
            s = s.copy(st=self.const[b])
            if effect.startswith("ends_"):
                s = self.end_session(s)
            elif effect.startswith("creates_"):
                _add(marks, "double", s.live)
                s = self.start_session(s, effect == "creates_saving", fd)
        return s

    # --- the outcomes of one event ----------------------------------------------------------
    def outcomes(self, s: LVars, event: LEvent, sources=None) -> list[Outcome]:
        """Every outcome of ``event``; ``sources`` limits the start states SETs consider."""
        if isinstance(event, LSet):
            return self._set(s, event.target, event.ok, event.data_fd, sources=sources)
        if isinstance(event, LHidden):
            return self._hidden(s, event.ok, sources)
        if isinstance(event, LGet):
            return [Outcome(z3.BoolVal(True), s,
                            misfit={"K002": s.st != self.const[event.state]})]
        if isinstance(event, LReset):
            return self._reset(s, event.ok)
        if isinstance(event, LProbe):
            return [Outcome(z3.BoolVal(True), s)]
        if isinstance(event, LDevClose):
            post = self.end_session(s) if self.behaviour.device_close_ends_sessions else s
            return [Outcome(z3.BoolVal(True), post)]
        if isinstance(event, LData):
            return self._data(s, event)
        if isinstance(event, LAppeared):
            return self._appeared(s, event.fd)
        raise TypeError(f"not an event of the alphabet: {event!r}")

    def _request_tags(self, src: str, reason: str) -> dict[str, z3.BoolRef]:
        if src == self.error:
            return {"U005": z3.BoolVal(True)}
        rule = {"target_error": "U003", "target_out_of_range": "U003",
                "target_unsupported": "U002", "undefined_flags": "U002",
                "blocked": "U004"}.get(reason)
        return {rule: z3.BoolVal(True)} if rule else {}

    def _leaving_tags(self, s: LVars, src: str, states, effects) -> dict[str, z3.BoolRef]:
        """U008, U011, U012, U014: what a SET's path does to the session it leaves or keeps."""
        tags: dict[str, z3.BoolRef] = {}
        if not effects:
            return tags
        if src == "STOP_COPY":
            _add(tags, "U008", all_of(s.live, s.sav, z3.Not(s.eof)))
        if src == "RESUMING" and states[1] != "RESUMING":
            _add(tags, "U011", all_of(s.live, z3.Not(s.moved)))
            _add(tags, "U012", all_of(s.live, s.moved, s.fcom))
        if any(e == "keeps" and states[i + 1] == "STOP_COPY" for i, e in enumerate(effects)):
            _add(tags, "U014", all_of(s.live, s.sav, s.closed))
        return tags

    def _set(self, s: LVars, target: str, ok: bool, data_fd: int | None,
             hidden: bool = False, sources=None) -> list[Outcome]:
        out: list[Outcome] = []
        for src in sources or self.names:
            at = s.st == self.const[src]
            good, reason, states, effects = self.path(src, target)
            tags = self._request_tags(src, reason)
            if ok:
                out.extend(self._set_success(s, at, src, target, good, states, effects, data_fd,
                                             tags, hidden))
            else:
                out.extend(self._set_failure(s, at, src, good, states, effects, tags))
        return out

    def _set_success(self, s, at, src, target, good, states, effects, data_fd, tags, hidden):
        if not good:
            return [Outcome(at, s, dict(tags), {"K001": z3.BoolVal(True)})]
        marks: dict[str, z3.BoolRef] = {}
        tags = {**tags, **self._leaving_tags(s, src, states, effects)}
        fd = data_fd if data_fd is not None and data_fd >= 0 else None
        post = self.apply_arcs(s, states, effects, fd, marks)
        if fd is not None:  # the reply opened a new file under this number
            post = post.copy(dead={**post.dead, fd: z3.BoolVal(False)})
        if src == "RESUMING" and len(states) > 1 and states[1] == "STOP":
            _add(tags, "K011", all_of(s.live, z3.Not(s.sav), z3.Not(s.moved)))
        if src in self.precopy_states and target == "STOP_COPY" and any(
                e.startswith(("ends_", "creates_")) for e in effects):
            _add(marks, "precopy_session_lost", s.live)
        misfit: dict[str, z3.BoolRef] = {}
        creates = bool(effects) and effects[-1].startswith("creates_")
        if data_fd is not None and not hidden:
            if creates and data_fd < 0:
                misfit["K003"] = z3.BoolVal(True)
            if not creates and data_fd >= 0:
                misfit["K003"] = z3.BoolVal(True)
        return [Outcome(at, post, tags, misfit, marks)]

    def _set_failure(self, s, at, src, good, states, effects, tags):
        if not good:
            return [Outcome(at, s, dict(tags))]
        if not effects:
            return [Outcome(at, s, {**tags, "K010": z3.BoolVal(True)})]
        tags = {**tags, **self._leaving_tags(s, src, states, effects)}
        stops = [(states[0], 0)]
        if self.behaviour.failure_anywhere_on_path:
            stops += [(states[i], i) for i in range(1, len(states))]
        if self.behaviour.failure_may_enter_error and self.error:
            stops.append((self.error, len(effects)))
        out = []
        for where, done in stops:
            marks: dict[str, z3.BoolRef] = {}
            post = self.apply_arcs(s, states[:done + 1], effects[:done], None, marks)
            post = post.copy(st=self.const[where])
            if src == "RESUMING" and where == "RESUMING":
                post = post.copy(fcom=z3.If(post.live, z3.BoolVal(True), post.fcom))
            out.append(Outcome(at, post, dict(tags), marks=marks))
        return out

    def _hidden(self, s: LVars, ok: bool, sources=None) -> list[Outcome]:
        """Not a state change (GET, PROBE, another feature), or a SET of any usable state."""
        out = [Outcome(z3.BoolVal(True), s)]
        for target in self.usable:
            for o in self._set(s, target, ok, None, hidden=True, sources=sources):
                # readings the model cannot explain are not readings of a hidden call
                out.append(Outcome(all_of(o.guard, o.fits), o.post, o.tags, {}, o.marks))
        return out

    def _reset(self, s: LVars, ok: bool) -> list[Outcome]:
        if not ok:
            return [Outcome(z3.BoolVal(True), s)]
        post = self.end_session(s) if self.behaviour.reset_ends_sessions else s
        post = post.copy(st=self.const[self.behaviour.reset_state])
        return [Outcome(z3.BoolVal(True), post, marks={"reset": z3.BoolVal(True)})]

    # --- data fds ------------------------------------------------------------------------------
    def bindings(self, s: LVars, j: int) -> list[tuple[str, z3.BoolRef, LVars]]:
        """How the file under fd ``j`` may relate to this reading: live and/or dead."""
        mine = all_of(s.live, s.bound, z3.Not(s.closed), s.fdn == j)
        unbound = all_of(s.live, z3.Not(s.bound), any_of(s.fdn == NO_FD, s.fdn == j))
        fresh = all_of(z3.Not(mine), z3.Not(s.dead[j]))
        return [
            ("live", mine, s),
            ("dead", all_of(z3.Not(mine), s.dead[j]), s),
            ("live", all_of(fresh, unbound),
             s.copy(bound=z3.BoolVal(True), fdn=z3.BitVecVal(j, FD_BITS))),
            ("dead", all_of(fresh, s.ghost), s.copy(dead={**s.dead, j: z3.BoolVal(True)})),
        ]

    def binds(self, s: LVars, j: int) -> z3.BoolRef:
        return any_of([g for _, g, _ in self.bindings(s, j)])

    def _data(self, s: LVars, ev: LData) -> list[Outcome]:
        out: list[Outcome] = []
        for how, guard, cfg in self.bindings(s, ev.fd):
            for o in self._on_file(how, cfg, ev):
                o.guard = all_of(guard, o.guard)
                out.append(o)
        # Not a file of this reading. close() keeps the reading as it is; any other call is on
        # some fd the device does not own (marked, so a checker comparison can drop it; the
        # proofs keep it as a step that changes nothing).
        marks = {} if ev.op == "close" else {"unbound": z3.BoolVal(True)}
        out.append(Outcome(z3.Not(self.binds(s, ev.fd)), s, marks=marks))
        return out

    def _appeared(self, s: LVars, j: int) -> list[Outcome]:
        out = [Outcome(guard, cfg) for _, guard, cfg in self.bindings(s, j)]
        out.append(Outcome(z3.Not(self.binds(s, j)), s, misfit={"K013": z3.BoolVal(True)},
                           marks={"unbound": z3.BoolVal(True)}))
        return out

    def _on_file(self, how: str, s: LVars, ev: LData) -> list[Outcome]:
        true = z3.BoolVal(True)
        if ev.op == "close":
            if how == "dead":
                return [Outcome(true, s.copy(dead={**s.dead, ev.fd: z3.BoolVal(False)}))]
            return [Outcome(true, s.copy(closed=z3.BoolVal(True)))]
        marks = {}
        if ev.moves_data and how == "dead":
            marks["dead_data"] = true
        if how == "dead":
            succeeded = ev.result in ("data", "zero", "ok")
            if ev.op == "read" and ev.result == "data" and self.behaviour.dead_fd_returns_data:
                return [Outcome(true, s, marks=marks)]
            if succeeded:
                rule = "K009" if ev.op == "precopy_info" else "K007"
                return [Outcome(true, s, misfit={rule: true}, marks=marks)]
            return [Outcome(true, s, {"U007": true})]
        if ev.op == "precopy_info":
            return [self._precopy_info(s, ev)]
        return self._io(s, ev)

    def _precopy_info(self, s: LVars, ev: LData) -> Outcome:
        misplaced = any_of(z3.Not(s.sav), z3.Not(self.is_state(s, self.precopy_states)))
        if ev.result == "ok":
            return Outcome(z3.BoolVal(True), s, misfit={"K009": misplaced})
        wrong_errno = all_of(z3.Not(s.sav), z3.BoolVal(ev.result != "ENOTTY"))
        return Outcome(z3.BoolVal(True), s, {"U009": misplaced}, {"K009": wrong_errno})

    def _io(self, s: LVars, ev: LData) -> list[Outcome]:
        true = z3.BoolVal(True)
        wrong_dir = s.sav if ev.op == "write" else z3.Not(s.sav)
        success = ev.result in ("data", "zero")
        out = []
        # the wrong direction: the VFS answers EBADF
        if success or ev.result != "EBADF":
            out.append(Outcome(wrong_dir, s, misfit={"K008": true}))
        else:
            out.append(Outcome(wrong_dir, s, {"U006": true}))
        right = z3.Not(wrong_dir)
        if ev.op == "write":
            resuming = s.st == self.const["RESUMING"] if "RESUMING" in self.const else \
                z3.BoolVal(False)
            if ev.result == "data":
                post = s.copy(moved=z3.If(resuming, true, s.moved),
                              fcom=z3.If(resuming, z3.BoolVal(False), s.fcom))
                out.append(Outcome(right, post))
            else:
                out.append(Outcome(right, s))
            return out
        in_stop_copy = s.st == self.const["STOP_COPY"] if "STOP_COPY" in self.const else \
            z3.BoolVal(False)
        if ev.result == "data":
            out.append(Outcome(right, s, misfit={"K005": all_of(in_stop_copy, s.eof)}))
        elif ev.result == "ENOMSG":
            marks = {"precopy_end": self.is_state(s, self.precopy_states)}
            out.append(Outcome(right, s, misfit={"K006": in_stop_copy}, marks=marks))
        elif ev.result == "zero":
            in_precopy = self.is_state(s, self.precopy_states)
            misfit = {} if self.behaviour.precopy_end_zero_read else {"K004": in_precopy}
            out.append(Outcome(right, s.copy(eof=z3.If(in_stop_copy, true, s.eof)),
                               {"K004": in_precopy}, misfit,
                               {"precopy_end": in_precopy}))
        else:
            out.append(Outcome(right, s))
        return out


def proof_alphabet(sem: Semantics) -> list[LEvent]:
    """The events the proofs quantify over: every event that can change the abstract state.

    Left out, because no outcome of theirs changes the state or carries a mark: GET (it only
    narrows), SET of a state the flags do not provide (refused, nothing changes), a SET reply
    with ``data_fd=-1`` (the same successors as a hidden reply, or a misfit), read/write
    errors other than ENOMSG, PRECOPY_INFO, and a failed RESET.
    """
    events: list[LEvent] = []
    for target in sem.usable:
        events += [LSet(target, True, fd) for fd in (None, *FDS)]
        events.append(LSet(target, False))
    events += [LReset(True), LDevClose()]
    for j in FDS:
        events += [LData(j, "read", r) for r in ("data", "zero", "ENOMSG")]
        events += [LData(j, "write", "data"), LData(j, "close")]
    return events
