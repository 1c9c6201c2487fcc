"""The model's prediction for every lab call, as a set of allowed outcomes.

The predictor follows a scenario the way the checker follows a trace: it keeps the *set* of
device configurations the uAPI allows (state, open data fds and their sessions), and for each
call returns every outcome some configuration allows. Device answers come from
``vfio_migcheck.model`` (``request``, ``failure_outcomes``, ``reset``); data-fd answers from
the uAPI's data-fd contract and the VFS rules every driver inherits
(include/uapi/linux/vfio.h:1037-1161, 1225-1283 and fs/read_write.c, Linux 6.12.118).

Where the uAPI leaves a choice (a failed SET, an unspecified errno), the outcome says so
(``errno="*"``, several states) instead of naming one driver's behaviour. Where drivers
differ in what they do (the state after a reopen, a saving-group arc taken with no live
session), the driver profile decides (:mod:`vfio_migcheck.model.profiles`); without one, every
in-tree driver's behaviour is allowed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from vfio_migcheck.conformance.statements import Statement
from vfio_migcheck.model.fsm import FlagModel, model_for
from vfio_migcheck.model.names import NameError_, parse_state
from vfio_migcheck.model.profiles import DriverProfile, generic_profile
from vfio_migcheck.model.spec import Spec

ANY_ERRNO = "*"
PRECOPY_INFO_SIZE = 24   # sizeof(struct vfio_precopy_info): drivers require argsz >= 24


@dataclass(frozen=True)
class Outcome:
    """One allowed result of a call.

    ``ret`` is ``"0"``, ``"-1"``, ``">=0"``, ``">=1"`` or ``"0..N"``; ``errno`` is None
    (success), an errno name, or ``"*"`` (any errno). ``data_fd`` says whether a SET reply
    carries a new data fd; ``states`` lists what a GET STATE may report; ``reply`` holds reply
    keys whose value is fixed (``flags`` of GET MIGRATION, ``data_fd=-1`` of a GET).
    """

    ret: str
    errno: str | None = None
    data_fd: bool | None = None
    states: tuple[str, ...] | None = None
    why: str = ""
    reply: tuple[tuple[str, str], ...] = ()

    def matches(self, ret: int, errno: str | None, reply: dict[str, str]) -> bool:
        if not _ret_matches(self.ret, ret):
            return False
        if ret < 0 and self.errno not in (ANY_ERRNO, errno):
            return False
        if self.data_fd is not None:
            fd = reply.get("data_fd")
            has_fd = fd is not None and fd.lstrip("-").isdigit() and int(fd) >= 0
            if has_fd != self.data_fd:
                return False
        if self.states is not None and reply.get("state") not in self.states:
            return False
        return all(reply.get(key) == value for key, value in self.reply)

    def describe(self) -> str:
        text = self.ret if self.errno is None else f"{self.ret} {self.errno}"
        if self.data_fd is not None:
            text += " +data_fd" if self.data_fd else " no data_fd"
        if self.states is not None:
            text += " state∈{" + ",".join(self.states) + "}"
        return text + "".join(f" {k}={v}" for k, v in self.reply)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ret": self.ret, "errno": self.errno}
        if self.data_fd is not None:
            out["data_fd"] = self.data_fd
        if self.states is not None:
            out["states"] = list(self.states)
        if self.reply:
            out["reply"] = dict(self.reply)
        out["why"] = self.why
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Outcome:
        states = data.get("states")
        return cls(data["ret"], data.get("errno"), data.get("data_fd"),
                   tuple(states) if states is not None else None, data.get("why", ""),
                   tuple(sorted(data.get("reply", {}).items())))


def _ret_matches(spec: str, ret: int) -> bool:
    if spec.startswith(">="):
        return ret >= int(spec[2:])
    if ".." in spec:
        low, high = spec.split("..")
        return int(low) <= ret <= int(high)
    return ret == int(spec)


@dataclass(frozen=True)
class Prediction:
    """Every allowed outcome of one call, and the model context it was computed in."""

    outcomes: tuple[Outcome, ...]
    states: tuple[str, ...]              # the device states the model thinks possible
    fd_kind: str | None = None           # saving | resuming | dead | closed (fd calls)

    def matches(self, ret: int, errno: str | None, reply: dict[str, str]) -> bool:
        return any(o.matches(ret, errno, reply) for o in self.outcomes)

    def to_json(self) -> dict[str, Any]:
        return {"outcomes": [o.to_json() for o in self.outcomes], "states": list(self.states),
                "fd_kind": self.fd_kind}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Prediction:
        return cls(tuple(Outcome.from_json(o) for o in data["outcomes"]),
                   tuple(data["states"]), data.get("fd_kind"))


@dataclass(frozen=True)
class Session:
    """An open data fd: which session it belongs to and whether that session is still live."""

    fd: int
    kind: str        # "saving" | "resuming"
    alive: bool


@dataclass(frozen=True)
class Config:
    """One possible device configuration. ``resume_data``: what the live resuming session
    has received (none | partial | complete | invalid); it decides RESUMING -> STOP."""

    state: str
    sessions: tuple[Session, ...] = ()
    resume_data: str = "none"
    orphan: str | None = None    # a live session whose fd was closed (the driver keeps it)

    def session(self, fd: int) -> Session | None:
        for s in self.sessions:
            if s.fd == fd:
                return s
        return None


@dataclass
class FdTable:
    """The process's fd numbers, shared by every device: the kernel hands out the lowest free."""

    used: set[int] = field(default_factory=set)

    def lowest_free(self) -> int:
        n = 0
        while n in self.used:
            n += 1
        return n


class DevicePredictor:
    """Predicts the calls on one device and its data fds."""

    def __init__(self, spec: Spec, flags: int, fds: FdTable, state: str = "RUNNING",
                 profile: DriverProfile | None = None) -> None:
        self.spec = spec
        self.flags = flags
        self.model: FlagModel = model_for(spec, flags)
        self.fds = fds
        self.profile = profile if profile is not None else generic_profile()
        self.configs: set[Config] = {Config(state)}
        self.fd_numbers: set[int] = set()   # data fds of this device that are open
        self.open = True

    # --- helpers ------------------------------------------------------------------------
    def states(self) -> tuple[str, ...]:
        order = self.spec.states
        return tuple(sorted({c.state for c in self.configs}, key=lambda s: order[s].value))

    def _target(self, text: str) -> str | int:
        try:
            return parse_state(text, self.spec)
        except NameError_ as exc:
            raise ValueError(str(exc)) from exc

    # --- device calls -----------------------------------------------------------------
    def predict(self, st: Statement) -> tuple[Prediction, int | None]:
        """The prediction for ``st`` and, for a SET, the fd number the model expects."""
        states = self.states()
        kind = st.kind
        if kind == "dev.GET STATE":
            return Prediction((Outcome("0", states=states, why="GET reports the state",
                                       reply=(("data_fd", "-1"),)),), states), None
        if kind == "dev.GET MIGRATION":
            return Prediction((Outcome("0", why="the device's migration flags",
                                       reply=(("flags", f"{self.flags:#x}"),)),), states), None
        if kind in ("dev.PROBE STATE", "dev.GET DATA_SIZE"):
            return Prediction((Outcome("0", why="supported by every migration driver"),),
                              states), None
        if kind == "dev.RESET":
            return self._reset(states), None
        if kind == "dev.close":
            return self._close(states), None
        if kind == "dev.SET STATE":
            if len(st.args) < 2:
                raise ValueError(f"line {st.line}: SET STATE needs a target state")
            return self._set(self._target(st.args[1]), states)
        raise ValueError(f"line {st.line}: no prediction rule for {kind!r}")

    def _reset(self, states: tuple[str, ...]) -> Prediction:
        state, ends = self.model.reset()
        new = set()
        for c in self.configs:
            sessions = tuple(replace(s, alive=False) for s in c.sessions) if ends else c.sessions
            new.add(Config(state, sessions, "none" if ends else c.resume_data,
                           None if ends else c.orphan))
        self.configs = new
        return Prediction((Outcome("0", why=f"reset gives {state}; sessions end"),), states)

    def _close(self, states: tuple[str, ...]) -> Prediction:
        """close_device: every driver ends its sessions; where the state goes is the
        driver's choice (mtty keeps it, xe resets it, the others reset it at the next open)."""
        close_state = self.profile.close_state
        new = set()
        for c in self.configs:
            dead = tuple(replace(s, alive=False) for s in c.sessions)
            new.add(Config(close_state or c.state, dead, "none"))
        self.configs = new
        self.open = False
        return Prediction((Outcome("0", why="closing the device fd ends every data session"),),
                          states)

    def reopen(self) -> None:
        """open_device again: RUNNING for drivers that reset there, the kept state for mtty."""
        new = set()
        for c in self.configs:
            if "reset" in self.profile.open_states:
                new.add(Config("RUNNING", c.sessions, "none"))
            if "kept" in self.profile.open_states:
                new.add(c)
        self.configs = new
        self.open = True

    def _set(self, target: str | int, states: tuple[str, ...]) -> tuple[Prediction, int | None]:
        outcomes: set[Outcome] = set()
        new: set[Config] = set()
        fd_number = self.fds.lowest_free()
        created = False
        for c in self.configs:
            answer = self.model.request(c.state, target)
            if not answer.ok:
                outcomes.add(Outcome("-1", answer.errno or "EINVAL", data_fd=False,
                                     why=f"{answer.reason.value}: {answer.detail}"))
                new.add(c)
                continue
            if not answer.steps:
                outcomes.add(Outcome("0", data_fd=False, why="no-op: already there"))
                new.add(c)
                continue
            if answer.steps[0].session == "ends_resuming" and c.resume_data != "complete":
                # uAPI:1089-1102: incomplete or invalid data must fail RESUMING -> STOP; the
                # first arc fails, so the device stays in RESUMING or enters ERROR.
                outcomes.add(Outcome("-1", ANY_ERRNO, data_fd=False,
                                     why=f"RESUMING -> STOP with {c.resume_data} data must fail"))
                for f in self.model.failure_outcomes(c.state, target):
                    if f.steps_done and f.state != self.spec.error_state:
                        continue
                    if f.state == self.spec.error_state:
                        dead = tuple(replace(s, alive=False) for s in c.sessions)
                        new.add(Config(f.state, dead, "none"))
                    else:
                        new.add(c)
                continue
            for creates, why in self._creations(c, answer):
                outcomes.add(Outcome("0", data_fd=creates is not None, why=why))
                config, made = self._after_set(c, target, answer, creates, fd_number)
                created = created or made
                new.add(config)
        self.configs = new
        if created:
            self.fds.used.add(fd_number)
            self.fd_numbers.add(fd_number)
            return Prediction(tuple(sorted(outcomes, key=_order)), states), fd_number
        return Prediction(tuple(sorted(outcomes, key=_order)), states), None

    def _creations(self, c: Config, answer) -> list[tuple[str | None, str]]:
        """The sessions a successful request may start: the model's, or, for a saving-group
        arc into STOP_COPY taken with no live saving session (after a reopen), what the
        driver does then: nothing, or a new saving session (mtty)."""
        path = f"{answer.detail}: {' -> '.join([c.state, *answer.path])}"
        last = answer.steps[-1]
        alive = c.orphan == "saving" or any(s.alive and s.kind == "saving" for s in c.sessions)
        if last.session != "keeps" or last.dst != "STOP_COPY" or alive:
            return [(answer.creates, path)]
        choices = self.profile.keeps_without_session
        out: list[tuple[str | None, str]] = []
        if "none" in choices:
            out.append((None, path + " (no live saving session: none is started)"))
        if "creates_saving" in choices:
            who = self.profile.who_text(lambda p: "creates_saving" in p.keeps_without_session)
            out.append(("saving", path + f" (no live saving session: {who} starts a new one)"))
        return out

    def _after_set(self, c: Config, target, answer, creates: str | None,
                   fd_number: int) -> tuple[Config, bool]:
        sessions = list(c.sessions)
        resume_data = c.resume_data
        orphan = c.orphan
        for step in answer.steps:
            if step.session == "ends_saving":
                sessions = [replace(s, alive=False) if s.kind == "saving" else s
                            for s in sessions]
                orphan = None if orphan == "saving" else orphan
            elif step.session == "ends_resuming":
                sessions = [replace(s, alive=False) if s.kind == "resuming" else s
                            for s in sessions]
                resume_data = "none"
                orphan = None if orphan == "resuming" else orphan
        if creates:
            sessions.append(Session(fd_number, creates, True))
            if creates == "resuming":
                resume_data = "none"
        state = target if isinstance(target, str) else c.state
        return Config(state, tuple(sessions), resume_data, orphan), bool(creates)

    # --- data-fd calls -----------------------------------------------------------------
    def owns_fd(self, fd: int) -> bool:
        return fd in self.fd_numbers

    def predict_fd(self, st: Statement) -> Prediction:
        assert st.fd is not None
        fd, verb = st.fd, st.verb
        outcomes: set[Outcome] = set()
        new: set[Config] = set()
        kinds: set[str] = set()
        for c in self.configs:
            s = c.session(fd)
            kind = "closed" if s is None else (s.kind if s.alive else "dead")
            kinds.add(kind)
            outs, c2 = _fd_rule(verb, st, c, s, kind)
            outcomes.update(outs)
            new.add(c2)
        self.configs = new
        if verb == "close":
            self.fd_numbers.discard(fd)
            self.fds.used.discard(fd)
        kind = kinds.pop() if len(kinds) == 1 else "|".join(sorted(kinds))
        return Prediction(tuple(sorted(outcomes, key=_order)), self.states(), kind)


def _order(o: Outcome) -> tuple:
    """A total order, so sidecars are byte-identical whatever the set iteration order."""
    return (o.ret, o.errno or "", str(o.data_fd), o.states or (), o.why, o.reply)


def _length(st: Statement) -> int | None:
    if st.args and st.args[0].isdigit():
        return int(st.args[0])
    return None


def _fd_rule(verb: str, st: Statement, c: Config, s: Session | None,
             kind: str) -> tuple[set[Outcome], Config]:
    """Outcomes of one data-fd call in one configuration, and the configuration after it."""
    ebadf = Outcome("-1", "EBADF", why="fd is not open")
    if verb == "poll":
        return {Outcome(">=0", why="poll never fails on a single fd (POLLNVAL if closed)")}, c
    if s is None:
        return {ebadf}, c
    if verb == "close":
        sessions = tuple(x for x in c.sessions if x.fd != st.fd)
        orphan = s.kind if s.alive else c.orphan
        return {Outcome("0", why="closing a data fd never changes the state")}, \
            replace(c, sessions=sessions, orphan=orphan)
    if verb in ("lseek", "pread64"):
        return {Outcome("-1", "ESPIPE", why="data fds are streams (stream_open)")}, c
    if verb == "read":
        if s.kind != "saving":
            return {Outcome("-1", "EBADF", why="resuming fds are write-only")}, c
        if not s.alive:
            return {Outcome("-1", ANY_ERRNO, why="session ended: the fd is dead "
                            "(errno unspecified; ENODEV in 6.12 drivers)")}, c
        if c.state in ("PRE_COPY", "PRE_COPY_P2P"):
            return {Outcome(">=1", why="PRE_COPY data"),
                    Outcome("-1", "ENOMSG", why="PRE_COPY temporary end of stream")}, c
        return {Outcome(">=0", why="STOP_COPY data; 0 = end of stream")}, c
    if verb == "write":
        if s.kind != "resuming":
            return {Outcome("-1", "EBADF", why="saving fds are read-only")}, c
        if not s.alive:
            return {Outcome("-1", ANY_ERRNO, why="session ended: the fd is dead")}, c
        length = _length(st)
        upto = f"0..{length}" if length is not None else ">=0"
        src = st.directives.get("src", "saved")
        if src == "saved":
            data = "complete" if st.directives.get("len") == "rest" else "partial"
            if c.resume_data in ("invalid",):
                data = "invalid"
            return {Outcome(upto, why="resume data from a saved stream")}, \
                replace(c, resume_data=data)
        return {Outcome(upto, why="invalid data may be accepted now and refused at STOP"),
                Outcome("-1", ANY_ERRNO, why="invalid resume data may be refused at once")}, \
            replace(c, resume_data="invalid")
    if verb == "precopy_info":
        if s.kind != "saving":
            return {Outcome("-1", "ENOTTY", why="resuming fds have no ioctls")}, c
        argsz = int(st.inputs.get("argsz", str(PRECOPY_INFO_SIZE)), 0)
        if argsz < PRECOPY_INFO_SIZE:
            return {Outcome("-1", "EINVAL", why="argsz below sizeof(vfio_precopy_info)")}, c
        if s.alive and c.state in ("PRE_COPY", "PRE_COPY_P2P"):
            return {Outcome("0", why="PRECOPY_INFO in a PRE_COPY state")}, c
        if c.state in ("PRE_COPY", "PRE_COPY_P2P"):
            return {Outcome("-1", ANY_ERRNO, why="fd of an ended session while a newer one "
                            "is in PRE_COPY: the uAPI names no errno (ENODEV in drivers)")}, c
        return {Outcome("-1", "EINVAL", why="PRECOPY_INFO outside PRE_COPY states")}, c
    raise ValueError(f"line {st.line}: no prediction rule for fd verb {verb!r}")
