"""The model's answer to one event in one configuration: every possible successor.

Pure functions ``step_*(config, event, ...) -> list[Outcome]``. An outcome is a successor
configuration plus tags: rules this reading breaks (``behaviour`` rules) or, when the
observation does not fit the model at all, the ``misfit`` rule that says why and the
configuration checking continues with. All uAPI knowledge comes from the model
(:func:`vfio_migcheck.model.fsm.model_for`); what drivers choose where the uAPI leaves room
comes from the device's driver profile (:mod:`vfio_migcheck.model.profiles`; the generic one,
the union of every driver, when none is known).
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from vfio_migcheck.checker.config import SAVING_STATES, Config, Session, evolve, make_config
from vfio_migcheck.checker.rules.base import Rule
from vfio_migcheck.checker.rules.driver import k001_request_wrongly_accepted as K001
from vfio_migcheck.checker.rules.driver import k002_state_read_disagrees as K002
from vfio_migcheck.checker.rules.driver import k003_data_fd_mismatch as K003
from vfio_migcheck.checker.rules.driver import k004_precopy_end_is_zero_read as K004
from vfio_migcheck.checker.rules.driver import k005_data_after_eof as K005
from vfio_migcheck.checker.rules.driver import k006_enomsg_in_stop_copy as K006
from vfio_migcheck.checker.rules.driver import k007_dead_fd_moved_data as K007
from vfio_migcheck.checker.rules.driver import k008_impossible_io_succeeded as K008
from vfio_migcheck.checker.rules.driver import k009_precopy_info_out_of_place as K009
from vfio_migcheck.checker.rules.driver import k010_no_op_set_failed as K010
from vfio_migcheck.checker.rules.driver import k011_empty_image_committed as K011
from vfio_migcheck.checker.rules.driver import k012_undefined_migration_flags as K012
from vfio_migcheck.checker.rules.driver import k013_unexplained_data_fd as K013
from vfio_migcheck.checker.rules.driver import k014_session_fd_never_seen as K014
from vfio_migcheck.checker.rules.driver import k015_saving_session_restarted as K015
from vfio_migcheck.checker.rules.driver import k016_state_changed_unasked as K016
from vfio_migcheck.checker.rules.driver import k018_more_bytes_than_asked as K018
from vfio_migcheck.checker.rules.vmm import u001_set_before_query as U001
from vfio_migcheck.checker.rules.vmm import u002_unsupported_target_state as U002
from vfio_migcheck.checker.rules.vmm import u003_error_or_out_of_range_target as U003
from vfio_migcheck.checker.rules.vmm import u004_blocked_transition as U004
from vfio_migcheck.checker.rules.vmm import u005_set_while_in_error as U005
from vfio_migcheck.checker.rules.vmm import u006_wrong_direction_io as U006
from vfio_migcheck.checker.rules.vmm import u007_data_fd_used_after_session_end as U007
from vfio_migcheck.checker.rules.vmm import u008_stop_copy_left_before_eof as U008
from vfio_migcheck.checker.rules.vmm import u009_precopy_info_misplaced as U009
from vfio_migcheck.checker.rules.vmm import u010_malformed_request as U010
from vfio_migcheck.checker.rules.vmm import u011_resuming_abandoned_by_set as U011
from vfio_migcheck.checker.rules.vmm import u012_failed_commit_not_reset as U012
from vfio_migcheck.checker.rules.vmm import u013_data_fd_not_closed as U013
from vfio_migcheck.checker.rules.vmm import u014_session_kept_after_fd_closed as U014
from vfio_migcheck.checker.rules.vmm import u016_positioned_io_on_stream as U016
from vfio_migcheck.checker.rules.vmm import u017_device_touched_while_quiesced as U017
from vfio_migcheck.checker.rules.vmm import u018_dma_logging_unpaired as U018
from vfio_migcheck.checker.rules.vmm import u019_resume_data_rejected as U019
from vfio_migcheck.checker.rules.vmm import u020_foreign_ioctl_on_data_fd as U020
from vfio_migcheck.model.fsm import Answer, FlagModel, Step, model_for
from vfio_migcheck.model.profiles import DriverProfile, generic_profile
from vfio_migcheck.model.spec import Spec
from vfio_migcheck.traces.events import UNKNOWN, DataIO, FeatureCall


@dataclass(frozen=True)
class Tag:
    rule: Rule
    message: str
    allowed: str = ""


@dataclass(frozen=True)
class Outcome:
    config: Config
    tags: tuple[Tag, ...] = ()
    #: some tag is a misfit rule: computed once here (the engine asks for every outcome)
    misfit: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        tags = self.tags
        object.__setattr__(self, "misfit", bool(tags) and any(t.rule.kind == "misfit"
                                                              for t in tags))


def ok(config: Config, *tags: Tag) -> Outcome:
    if not tags:       # the most frequent outcome: skip the dataclass's checks
        return _fitting(config, ())
    return Outcome(config, tags)


def misfit(config: Config, rule: Rule, message: str, allowed: str) -> Outcome:
    return Outcome(config, (Tag(rule, message, allowed),))


def distinct(outcomes: Iterable[Outcome]) -> list[Outcome]:
    """The outcomes without later repeats of one object, in order.

    What the engine makes of a step's outcomes (the readings kept and their order, the
    rules every outcome carries, the undecided ones, the first tag of each rule, misfit)
    depends on which outcomes occur and in what order of first occurrence, never on how
    often: a repeated object changes nothing. The replays of hidden FEATURE calls repeat
    one object for equal outcomes (see :func:`_replay`); dropping them here, without a
    Python call per outcome, spares the engine's passes over each."""
    outcomes = list(outcomes)
    return list(dict(zip(map(id, outcomes), outcomes)).values())


# --- results -----------------------------------------------------------------------------

def succeeded(ret) -> bool | None:
    """True for ret >= 0, False for -1, None when the trace does not show it."""
    if ret is UNKNOWN or ret is None:
        return None
    return ret >= 0


# --- SET MIG_DEVICE_STATE ------------------------------------------------------------------

def apply_steps(config: Config, steps: tuple[Step, ...], fd: int | None, line: int,
                tags: list[Tag] | None = None) -> Config:
    """Walk arcs, applying each arc's data-session effect (noting sessions never seen)."""
    for step in steps:
        config = config.with_state(step.dst)
        effect = step.session
        if effect.startswith("ends_"):
            never_seen = K014.check(config.session)
            if tags is not None and never_seen is not None:
                tags.append(Tag(K014.RULE, never_seen))
            config = config.end_session()
        elif effect.startswith("creates_"):
            config = config.end_session().start_session(effect.removeprefix("creates_"), fd, line)
    return config


def resync_state(config: Config, state: str) -> Config:
    """Continue with ``state`` after a misfit, keeping a session only where it can live."""
    config = config.with_state(state)
    session = config.session
    if session is not None:
        fits = (state in SAVING_STATES and session.kind in ("saving", "unknown")) or (
            state == "RESUMING" and session.kind in ("resuming", "unknown"))
        if not fits:
            config = config.end_session()
    return config


#: behaviour rules about the sessions a SET's path ends or keeps, in reporting order
LEAVING_RULES = (U008, U011, U012, U014)


def _leaving_tags(config: Config, steps: tuple[Step, ...]) -> list[Tag]:
    """Behaviour rules about the sessions a SET's path ends or keeps."""
    return [Tag(unit.RULE, message) for unit in LEAVING_RULES
            if (message := unit.check(config, steps)) is not None]


def step_set(config: Config, spec: Spec, target, event: FeatureCall, line: int,
             profile: DriverProfile | None = None) -> list[Outcome]:
    """SET MIG_DEVICE_STATE ``target`` (a state name or an out-of-range int)."""
    profile = profile or generic_profile()
    model = model_for(spec, config.flags)
    answer = model.request(config.state, target)
    tags: list[Tag] = [Tag(rule, msg) for rule, msg in
                       request_problems(answer, config.state, spec.error_state)]
    unqueried = U001.check(config)
    if unqueried is not None:
        tags.append(Tag(U001.RULE, unqueried))
    data_fd = event.data_fd if isinstance(event.data_fd, int) else None
    result = succeeded(event.ret)
    out: list[Outcome] = []
    if result in (True, None):
        out.extend(_set_success(config, model, answer, data_fd, line, tags, profile))
    if result in (False, None):
        out.extend(_set_failure(config, model, answer, event, line, tags, profile))
    return out


def _restarts_saving(after: Config, answer: Answer) -> bool:
    """The final arc keeps a saving session that is not alive (a reopen in PRE_COPY(_P2P))."""
    last = answer.steps[-1] if answer.steps else None
    return (last is not None and last.session == "keeps" and last.dst == "STOP_COPY"
            and after.session is None)


def _set_success(config: Config, model: FlagModel, answer, data_fd: int | None, line: int,
                 tags: list[Tag], profile: DriverProfile) -> list[Outcome]:
    if not answer.ok:
        allowed = f"-1 EINVAL ({answer.detail})"
        target = answer.dst
        cont = config
        if isinstance(target, str) and target in model.usable:
            cont = resync_state(config, target)
        return [Outcome(cont, (*tags, Tag(K001.RULE,
                                          f"SET {answer.src} -> {target} succeeded",
                                          allowed)))]
    creates = answer.creates if answer.steps else None
    steps_tags = _leaving_tags(config, answer.steps)
    final_creates = bool(answer.steps) and answer.steps[-1].session.startswith("creates_")
    fd = data_fd if data_fd is not None and data_fd >= 0 else None
    extra: list[Tag] = []
    after = apply_steps(config, answer.steps, fd, line, extra)
    empty_commit = K011.check(config, answer.steps)
    if empty_commit is not None:
        extra.append(Tag(K011.RULE, empty_commit))
    if _restarts_saving(after, answer) and data_fd != -1 \
            and "creates_saving" in profile.keeps_without_session:
        restarted = after.start_session("saving", fd, line)
        note = [] if not profile.is_generic else [Tag(K015.RULE, K015.check(
            profile.who_text(lambda p: "creates_saving" in p.keeps_without_session)))]
        out = [Outcome(restarted, (*tags, *steps_tags, *extra, *note))]
        if data_fd is None and "none" in profile.keeps_without_session:
            out.append(Outcome(after, (*tags, *steps_tags, *extra)))
        return out
    if _restarts_saving(after, answer) and data_fd == -1 \
            and "none" not in profile.keeps_without_session:
        return [Outcome(after, (*tags, *steps_tags, Tag(
            K003.RULE, f"SET {answer.src} -> {answer.dst} returned data_fd=-1",
            f"a new data fd: with no live saving session {profile.name} starts one")))]
    if data_fd is not None:
        if final_creates and data_fd < 0:
            return [Outcome(after, (*tags, *steps_tags, Tag(
                K003.RULE, f"SET {answer.src} -> {answer.dst} returned data_fd=-1",
                f"a new data fd: the arc {answer.steps[-1].src} -> {answer.steps[-1].dst} "
                f"starts a {creates} session")))]
        if not final_creates and data_fd >= 0:
            return [Outcome(after, (*tags, *steps_tags, Tag(
                K003.RULE, f"SET {answer.src} -> {answer.dst} returned data_fd={data_fd}",
                "data_fd=-1: no session starts on this path")))]
    return [Outcome(after, (*tags, *steps_tags, *extra))]


def _set_failure(config: Config, model: FlagModel, answer, event: FeatureCall, line: int,
                 tags: list[Tag], profile: DriverProfile) -> list[Outcome]:
    if not answer.ok:
        return [Outcome(config, tuple(tags))]
    noop_failed = K010.check(answer, event)
    if noop_failed is not None:
        return [Outcome(config, (*tags, Tag(K010.RULE, noop_failed)))]
    outcomes: list[Outcome] = []
    leaving = _leaving_tags(config, answer.steps)
    for fo in model.failure_outcomes(config.state, answer.dst):
        notes: list[Tag] = []
        after = apply_steps(config, fo.steps_done, None, line, notes).with_state(fo.state)
        if after.session is not None and config.state == "RESUMING" and fo.state == "RESUMING":
            after = after.with_session(failed_commit=True)
        outcomes.append(Outcome(after, (*tags, *leaving, *notes)))
    outcomes.extend(_profiled_failures(config, answer, event, line, tags, profile))
    return outcomes


def _profiled_failures(config: Config, answer: Answer, event: FeatureCall, line: int,
                       tags: list[Tag], profile: DriverProfile) -> list[Outcome]:
    """Failures some driver has beyond the generic reading: an arc that ends the session
    before it fails and leaves the state at its start (mlx5 PRE_COPY -> RUNNING, EIO)."""
    errno = event.errno if isinstance(event.errno, str) else None
    out: list[Outcome] = []
    for i, step in enumerate(answer.steps):
        for failure in profile.failures_for(step.src, step.dst):
            if failure.session != "ended" or errno not in (None, failure.errno):
                continue
            after = apply_steps(config, answer.steps[:i], None, line).end_session()
            out.append(Outcome(after.with_state(step.src), tuple(tags)))
    return out


def step_hidden_feature(config: Config, spec: Spec, event: FeatureCall, line: int,
                        pinned_target=None, no_set: bool = False,
                        known_set: bool = False) -> list[Outcome]:
    """A FEATURE call whose payload is hidden: any GET/PROBE/SET reading that fits.

    ``pinned_target``: QEMU traced the request this call carries out. ``no_set``: QEMU traces
    every state request of this device and none is pending, so the call is not a SET.
    ``known_set``: the trace shows a SET of MIG_DEVICE_STATE whose target alone is hidden.

    Each such call expands the reading into every target's SET (a dozen ``step_set`` calls
    per reading), and a capture with hidden payloads repeats the same few readings call
    after call: the outcomes are computed once per reading core and replayed
    (:func:`_replayed_hidden_feature`), with results identical to
    :func:`hidden_feature_outcomes`.
    """
    if HIDDEN_STEP_CACHE:
        return _replayed_hidden_feature(config, spec, event, line, pinned_target, no_set,
                                        known_set)
    return hidden_feature_outcomes(config, spec, event, line, pinned_target, no_set,
                                   known_set)


def hidden_feature_outcomes(config: Config, spec: Spec, event: FeatureCall, line: int,
                            pinned_target=None, no_set: bool = False,
                            known_set: bool = False) -> list[Outcome]:
    """:func:`step_hidden_feature` computed from the model, every time."""
    out: list[Outcome] = []
    result = succeeded(event.ret)
    if no_set and pinned_target is None:
        return [Outcome(config.with_queried() if result is not False else config)]
    if (pinned_target is None and not known_set) or pinned_target == config.state:
        # Not a state change: a GET (maybe of MIGRATION), PROBE, or another feature's SET.
        out.append(Outcome(config.with_queried() if result is not False else config))
    if pinned_target is not None:
        targets = [pinned_target] if pinned_target != config.state else []
    else:
        model = model_for(spec, config.flags)
        targets = sorted(model.usable)
        if known_set and result is not True:
            targets.append(config.state)  # a refused request leaves the reading unchanged
    for target in targets:
        for o in step_set(config, spec, target, event, line):
            if not o.misfit:
                out.append(Outcome(o.config, tuple(
                    t for t in o.tags if t.rule is not U001.RULE)))
    return out


# --- hidden FEATURE calls, replayed ---------------------------------------------------------
#
# The outcomes of a hidden FEATURE call depend on the reading only through its core: flags,
# state, ghost, queried, logging and the session's flags (kind, fd, eof, moved, closed,
# failed_commit, opaque, whether its file is known). The reading's names only ride along:
# the files in ``dead`` and ``foreign`` pass through untouched (the session's own file joins
# ``dead`` when an arc ends the session), the session keeps its file and start line, and a
# session the call starts begins at the event's line. So the outcomes are computed once on
# the core, with stand-ins for those names, and replayed with the reading's own names.

#: replay hidden FEATURE steps from the cache (False: compute every one, the reference)
HIDDEN_STEP_CACHE = True
#: cached cores per spec before the table starts afresh (a bound on its memory)
HIDDEN_CACHE_LIMIT = 20_000


class _StandIn:
    """A line number in a cached core; it formats as a token marking where it was quoted."""

    __slots__ = ("token",)

    def __init__(self, token: str) -> None:
        self.token = token

    def __repr__(self) -> str:
        return self.token

    __str__ = __repr__

    def __format__(self, format_spec: str) -> str:
        return self.token


_LINE = _StandIn("\0line\0")          # the event's line: where a session the call starts begins
_CREATED = _StandIn("\0created\0")    # the line the reading's own session started at
_FILE = "\0file\0"                    # the reading's session's file
_TOKENS = (_LINE.token, _CREATED.token, _FILE)
_NO_FILES: frozenset[str] = frozenset()
_UNCACHED = ("uncached",)  # a table entry: this core's outcomes are computed every time

# how an outcome's session is rebuilt from the reading's: none, the reading's own, one the
# call starts (at the event's line), the reading's own with some fields changed
_NO_SESSION, _OWN_SESSION, _NEW_SESSION, _CHANGED_SESSION = range(4)

_HIDDEN_TABLES: dict[tuple[int, int], tuple[Spec, DriverProfile, dict]] = {}
#: outcome shapes (all fields) -> their numbers, see :func:`_shape_id`
_SHAPE_IDS: dict[tuple, int] = {}
_SHAPE_COUNTER = itertools.count()
#: outcomes (shape number and tags, all fields) -> their numbers, see :func:`_entry_id`
_ENTRY_IDS: dict[tuple, int] = {}
_ENTRY_COUNTER = itertools.count()
#: replayed outcomes by entry number and names, see :func:`_replay`
_REPLAYED: dict[tuple, Outcome] = {}
#: replayed configs by shape and names, see :func:`_replayed_config`
_REPLAYED_CONFIGS: dict[tuple, Config] = {}
#: entries in each of those tables before it starts afresh (a bound on their memory)
REPLAYED_LIMIT = 50_000


def _replayed_hidden_feature(config: Config, spec: Spec, event: FeatureCall, line: int,
                             pinned_target, no_set: bool, known_set: bool) -> list[Outcome]:
    plan = _UNCACHED
    call = _call_part(event, spec, pinned_target, no_set, known_set)
    if call is not None:
        core = config.__dict__.get("_core")
        if core is None:
            core = _core_number(config)
        if core is not None:
            table = call[1]
            key = (core, call[0])
            plan = table.get(key)
            if plan is None:
                plan = _hidden_plan(config, spec, event, pinned_target, no_set, known_set)
                if len(table) >= HIDDEN_CACHE_LIMIT:
                    table.clear()
                table[key] = plan
    if plan is _UNCACHED:
        return hidden_feature_outcomes(config, spec, event, line, pinned_target, no_set,
                                       known_set)
    return _replay(config, line, plan)


# the names of a reading an entry's replay may read, by position (see _Entry.names)
_OWN_ID, _OWN_FILE, _OWN_CREATED, _OWN_PZR, _EVENT_LINE = range(5)


class _Entry:
    """One outcome of a cached core: its shape (None: the reading itself), tags, how its
    session is rebuilt, and which of a reading's names its replay reads."""

    __slots__ = ("how", "shape", "tags", "named", "adds_dead", "ids", "names")

    def __init__(self, how: int, shape: Config | None, tags: tuple[Tag, ...],
                 named: tuple | None, tokens: frozenset[str]) -> None:
        self.how = how
        self.shape = shape
        self.tags = tags
        self.named = named            # tags that quote names: see _replay_tags
        self.adds_dead = shape is not None and bool(shape.dead)
        #: (shape number, entry number) per reading's carried ghost and queried flags
        #: (see :func:`_carried`), made when first replayed so
        self.ids: list[tuple[int, int] | None] = [None] * 4
        read: set[int] = set()
        if how == _NO_SESSION and self.adds_dead:
            read.add(_OWN_FILE)
        elif how == _OWN_SESSION:
            read.add(_OWN_ID)              # the session itself, kept alive by the outcome
        elif how == _NEW_SESSION:
            read.update((_EVENT_LINE, *((_OWN_FILE,) if self.adds_dead else ())))
        elif how == _CHANGED_SESSION:
            read.update((_OWN_FILE, _OWN_CREATED, _OWN_PZR))
        for token, slot in ((_LINE.token, _EVENT_LINE), (_CREATED.token, _OWN_CREATED),
                            (_FILE, _OWN_FILE)):
            if token in tokens:
                read.add(slot)
        #: the names this entry's outcome depends on, beyond the reading's dead and foreign
        #: files (None: none)
        self.names = operator.itemgetter(*sorted(read)) if read else None

    def numbers(self, carried: int) -> tuple[int, int]:
        """The shape and entry numbers of this outcome replayed for a reading whose
        ghost and queried flags are ``carried``: outcomes equal in every field share them,
        whichever cores they were computed on."""
        sid = _shape_id(self.how, self.shape, carried)
        ids = self.ids[carried] = (sid, _entry_id(sid, self.tags))
        return ids


def _carried(config: Config) -> int:
    """The reading's ghost and queried flags as one number (0-3). A hidden call never
    reads them: its outcomes carry them, or set them (a session ended before its fd was
    seen; a GET), so a core is computed with neither and replayed with the reading's."""
    return (1 if config.ghost else 0) + (2 if config.queried else 0)


def _replay(config: Config, line: int, plan: tuple[_Entry, ...]) -> list[Outcome]:
    """A cached core's outcomes with the names of ``config``.

    The readings of a device mostly share their files, and the cores of one call share
    most of their outcomes (a SET to STOP_COPY from RUNNING or from STOP): two in three
    replayed outcomes equal one replayed before. Each is kept under its entry's number and
    the names it reads, so a repeat is one look-up and the very same object, which the
    engine's deduplication drops without hashing or comparing it."""
    own = config.session
    if own is None:
        names: tuple = (None, None, None, None, line)
    else:
        names = (id(own), own.file, own.created_line, own.precopy_zero_reported, line)
    dead = config.dead
    foreign = config.foreign
    carried = _carried(config)
    table = _REPLAYED
    out = []
    for entry in plan:
        if entry.shape is None:    # the reading itself: its own outcome, never shared
            named = entry.named
            out.append(_fitting(config, entry.tags if named is None
                                else _replay_tags(config, line, entry.tags, named)))
            continue
        ids = entry.ids[carried] or entry.numbers(carried)
        read = entry.names
        key = (ids[1], dead, foreign) if read is None else \
            (ids[1], dead, foreign, read(names))
        outcome = table.get(key)
        if outcome is None:
            named = entry.named
            outcome = _fitting(_replayed_config(config, line, entry, ids[0]),
                               entry.tags if named is None
                               else _replay_tags(config, line, entry.tags, named))
            if len(table) >= REPLAYED_LIMIT:
                table.clear()
            table[key] = outcome
        out.append(outcome)
    return out


def _fitting(config: Config, tags: tuple[Tag, ...]) -> Outcome:
    """``Outcome(config, tags)`` for tags known to hold no misfit rule, without the
    dataclass's checks (every replayed outcome is such a one)."""
    out = object.__new__(Outcome)
    out.__dict__.update(config=config, tags=tags, misfit=False)
    return out


#: the last call's part of the cache key: (event, spec, pinned, no_set, known_set, answer);
#: a hidden call is replayed for every reading of the device in a row
_LAST_CALL: list = [None]
#: reading cores (see :func:`_core_number`) and call parts -> their numbers
_CORE_IDS: dict[tuple, int] = {}
_CORE_COUNTER = itertools.count()


def _call_part(event: FeatureCall, spec: Spec, pinned_target, no_set: bool,
               known_set: bool) -> tuple[int, dict] | None:
    """The call's part of a cached core's key, as a number, and the spec's table (None: a
    value the key could confuse, no cache). Made once per call: the engine replays one
    call for every reading of the device in a row."""
    last = _LAST_CALL[0]
    if last is not None and last[0] is event and last[1] is spec and last[2] == (
            pinned_target, no_set, known_set) and type(last[2][0]) is type(pinned_target):
        return last[3]
    data_fd = event.data_fd if isinstance(event.data_fd, int) else None
    answer: tuple[int, dict] | None = None
    if not (isinstance(data_fd, bool) or isinstance(pinned_target, bool)):
        # True == 1 as a key, but prints differently
        errno = event.errno if isinstance(event.errno, str) else None
        part = ("call", succeeded(event.ret), errno, data_fd, pinned_target, no_set,
                known_set)
        try:
            answer = (_number(_CORE_IDS, _CORE_COUNTER, part), _hidden_table(spec))
        except TypeError:
            answer = None
    _LAST_CALL[0] = (event, spec, (pinned_target, no_set, known_set), answer)
    return answer


def _core_number(config: Config) -> int | None:
    """The number of the reading's core: everything of it the outcomes of a hidden call
    depend on (None: a value the key could confuse, no cache). Kept on the config, which
    meets one call after another (Config's copies drop it)."""
    s = config.session
    session = None if s is None else (s.kind, s.file is None, s.fd, s.eof, s.moved, s.closed,
                                      s.failed_commit, s.opaque)
    if type(s.fd if s is not None else None) is bool:
        return None
    core = (config.flags, config.state, session, config.logging)
    try:
        number = _number(_CORE_IDS, _CORE_COUNTER, core)
    except TypeError:
        return None
    object.__setattr__(config, "_core", number)
    return number


def _hidden_table(spec: Spec) -> dict:
    """The cached cores of one spec (the generic driver profile's outcomes, as computed)."""
    profile = generic_profile()
    ident = (id(spec), id(profile))
    held = _HIDDEN_TABLES.get(ident)
    if held is None or held[0] is not spec or held[1] is not profile:
        held = _HIDDEN_TABLES[ident] = (spec, profile, {})
    return held[2]


def _core_of(config: Config) -> Config:
    s = config.session
    if s is not None:
        s = Session(s.kind, None if s.file is None else _FILE, s.fd, s.eof, s.moved,
                    s.closed, s.failed_commit, s.opaque, created_line=_CREATED)  # type: ignore[arg-type]
    return Config(config.flags, config.state, s, _NO_FILES, False, False, config.logging,
                  _NO_FILES)


def _hidden_plan(config: Config, spec: Spec, event: FeatureCall, pinned_target,
                 no_set: bool, known_set: bool) -> tuple:
    """The outcomes of the reading's core, each with how to rebuild it for a reading, or
    ``_UNCACHED`` when an outcome holds a name the replay would not know how to restore."""
    core = _core_of(config)
    outcomes = hidden_feature_outcomes(core, spec, event, _LINE,  # type: ignore[arg-type]
                                       pinned_target, no_set, known_set)
    plan = []
    for o in outcomes:
        how = _session_rebuild(core, o.config)
        own_file = core.session is not None and core.session.file == _FILE
        if how is None or o.misfit or o.config.foreign \
                or not o.config.dead <= ({_FILE} if own_file else _NO_FILES):
            return _UNCACHED
        quoted = [{token for token in _TOKENS if token in t.message or token in t.allowed}
                  for t in o.tags]
        # tags that quote a name: which ones, which names, and their texts per names
        named = ({}, tuple(bool(q) for q in quoted), frozenset().union(*quoted)) \
            if any(quoted) else None
        plan.append(_Entry(how, None if o.config is core else o.config, o.tags, named,
                           frozenset().union(*quoted)))
    return tuple(plan)


def _shape_id(how: int, shape: Config | None, carried: int = 0) -> int:
    """One number for every outcome shape equal in all its fields (also those equality
    ignores): the cores of one call share most of their outcomes, and the replays of equal
    shapes with equal names are then one config (see :func:`_replayed_config`)."""
    if shape is None:
        return -1
    s = shape.session
    session = None if s is None else (s.kind, s.file, s.fd, s.eof, s.moved, s.closed,
                                      s.failed_commit, s.opaque, s.created_line,
                                      s.precopy_zero_reported)
    key = (how, shape.flags, shape.state, session, shape.dead,
           shape.ghost or bool(carried & 1), shape.queried or bool(carried & 2),
           shape.logging, shape.foreign)
    return _number(_SHAPE_IDS, _SHAPE_COUNTER, key)


def _entry_id(sid: int, tags: tuple[Tag, ...]) -> int:
    """One number for every (shape, tags) equal in all their fields: the outcomes that a
    reading's names turn into one outcome (see :func:`_replay`)."""
    key = (sid, tuple((id(t.rule), t.message, t.allowed) for t in tags))
    return _number(_ENTRY_IDS, _ENTRY_COUNTER, key)


def _number(table: dict[tuple, int], counter: itertools.count, key: tuple) -> int:
    """The number of ``key`` in ``table``; a table starting afresh gives new numbers, never
    reused ones (plans keep theirs)."""
    number = table.get(key)
    if number is None:
        if len(table) >= REPLAYED_LIMIT:
            table.clear()
        number = table[key] = next(counter)
    return number


def _session_rebuild(core: Config, after: Config) -> int | None:
    s = after.session
    if s is None:
        return _NO_SESSION
    if s is core.session:
        return _OWN_SESSION
    if s.created_line is _LINE and s.file is None:
        return _NEW_SESSION
    if s.created_line is _CREATED and core.session is not None \
            and s.file == core.session.file:
        return _CHANGED_SESSION
    return None


def _replayed_config(config: Config, line: int, entry: _Entry, sid: int) -> Config:
    """:func:`_replay_config` of a plan entry, the same object for equal inputs.

    A hidden call expands each reading into a dozen outcomes, and readings that differ only
    in their state mostly land on the same ones (a SET to STOP_COPY from RUNNING or from
    STOP), so two in three replayed outcomes equal one made before: the engine would build,
    hash and compare each only to drop it. The key holds everything the replay reads: the
    shape's number, the reading's ``dead`` and ``foreign`` files, and of its session what
    the entry's rebuild takes (the session itself by identity, which the kept config holds
    alive; its file, start line and zero-read note; or the event's line)."""
    how, shape = entry.how, entry.shape
    own = config.session
    dead_file = own.file if entry.adds_dead else None  # type: ignore[union-attr]
    if how == _NO_SESSION:
        key: tuple = (sid, config.dead, config.foreign, dead_file)
    elif how == _OWN_SESSION:
        key = (sid, config.dead, config.foreign, dead_file, id(own))
    elif how == _NEW_SESSION:
        key = (sid, config.dead, config.foreign, dead_file, line)
    else:
        assert own is not None
        key = (sid, config.dead, config.foreign, own.file, own.created_line,
               own.precopy_zero_reported)
    table = _REPLAYED_CONFIGS
    out = table.get(key)
    if out is None:
        if len(table) >= REPLAYED_LIMIT:
            table.clear()
        out = table[key] = _replay_config(config, line, how, shape)
    return out


def _replay_config(config: Config, line: int, how: int, shape: Config | None) -> Config:
    """The outcome ``shape`` (computed on the core) with the names of ``config``."""
    if shape is None:
        return config        # the reading itself, unchanged
    own = config.session
    if how == _NO_SESSION:
        session = None
    elif how == _OWN_SESSION:
        session = own
    elif how == _NEW_SESSION:
        session = evolve(shape.session, created_line=line)
    else:
        assert own is not None
        session = evolve(shape.session, file=own.file, created_line=own.created_line,
                         precopy_zero_reported=own.precopy_zero_reported)
    # the only name a step adds to ``dead`` is the session's own file (an arc ended it)
    dead = (config.dead | {own.file}) if shape.dead else config.dead  # type: ignore[union-attr]
    # ghost and queried are carried: a step only ever sets them (the core has neither)
    return make_config(shape.flags, shape.state, session, dead, shape.ghost or config.ghost,
                       shape.queried or config.queried, shape.logging, config.foreign)


def _replay_tags(config: Config, line: int, tags: tuple[Tag, ...],
                 named: tuple[dict, tuple[bool, ...], frozenset[str]]) -> tuple[Tag, ...]:
    """Cached tags that quote a name (a session's start line), with the reading's names;
    ``named`` keeps them per quoted names (the same session meets many calls)."""
    own = config.session
    created = own.created_line if own is not None else None
    file = own.file if own is not None else None
    done, quoting, tokens = named
    key = (line if _LINE.token in tokens else None,
           created if _CREATED.token in tokens else None,
           file if _FILE in tokens else None)
    out = done.get(key)
    if out is None:
        names = ((_LINE.token, str(line)), (_CREATED.token, str(created)), (_FILE, str(file)))

        def text(value: str) -> str:
            for token, name in names:
                value = value.replace(token, name)
            return value

        out = tuple(Tag(t.rule, text(t.message), text(t.allowed)) if quotes else t
                    for t, quotes in zip(tags, quoting, strict=True))
        if len(done) >= 64:
            done.clear()
        done[key] = out
    return out


# --- GET ------------------------------------------------------------------------------------

def step_get_state(config: Config, reply, profile: DriverProfile | None = None,
                   error_state: str = "ERROR") -> list[Outcome]:
    if not isinstance(reply, str):
        return [ok(config)]
    if reply == config.state:
        return [ok(config)]
    profile = profile or generic_profile()
    if reply == error_state and profile.async_error:
        drivers = profile.who_text(lambda p: p.async_error)
        return [ok(config.end_session().with_state(reply),
                   Tag(K016.RULE, K016.check(config.state, drivers)))]
    return [misfit(resync_state(config, reply), K002.RULE,
                   f"GET reports {reply}", config.state)]


def step_get_migration(config: Config, spec: Spec, mig_flags) -> list[Outcome]:
    config = replace(config, queried=True)
    if not isinstance(mig_flags, int):
        return [ok(config)]
    flags = mig_flags & spec.all_flags_mask
    if flags == config.flags:
        if not spec.mandatory_flags <= spec.flag_names(flags):
            return [misfit(config, K012.RULE,
                           f"GET MIGRATION reports {mig_flags:#x}, which lacks "
                           f"{', '.join(sorted(spec.mandatory_flags))}",
                           "a defined flag set: " + ", ".join(
                               f"{f:#x}" for f in spec.defined_flag_sets))]
        return [ok(config)]
    return [misfit(replace(config, flags=flags), K012.RULE,
                   f"GET MIGRATION reports {mig_flags:#x}", f"{config.flags:#x}")]


# --- RESET ----------------------------------------------------------------------------------

EARLY_RESET_ERRNOS = frozenset({"EINVAL", "ENOTTY", "EAGAIN"})


def do_reset(config: Config, spec: Spec) -> Config:
    state, ends = model_for(spec, config.flags).reset()
    after = config.end_session() if ends else config
    return replace(after, state=state)


def step_reset(config: Config, spec: Spec, ret, errno,
               profile: DriverProfile | None = None) -> list[Outcome]:
    """VFIO_DEVICE_RESET. EINVAL/EAGAIN refuse before any reset; ENOTTY may come after
    reset_done already ran (drivers/pci/pci.c:5478-5494, Linux 6.12.118), per the profile."""
    profile = profile or generic_profile()
    result = succeeded(ret)
    if result is True:
        return [ok(do_reset(config, spec))]
    if result is False and isinstance(errno, str) and errno in EARLY_RESET_ERRNOS \
            and errno not in profile.reset_errnos_after_reset:
        return [ok(config)]
    return [ok(config), ok(do_reset(config, spec))]


# --- data fds -------------------------------------------------------------------------------

def bindings(config: Config, file: str, fd: int) -> list[tuple[str, Config]]:
    """How ``file`` may relate to this reading: ('live', cfg) and/or ('dead', cfg).

    A file seen for the first time may be the fd of the session not yet bound, or of an
    earlier session that ended before its fd was used (``ghost``); both readings are kept.
    Empty when this reading has no place for the file.
    """
    if file in config.foreign:
        return []
    session = config.session
    if session is not None and session.file == file:
        return [("live", config)]
    if file in config.dead:
        return [("dead", config)]
    out: list[tuple[str, Config]] = []
    if session is not None and session.file is None and session.fd in (None, fd):
        out.append(("live", config.with_session(file=file, fd=fd)))
    if config.ghost:
        out.append(("dead", config.with_dead(config.dead | {file})))
    return out


def is_new_binding(config: Config, file: str) -> bool:
    """True when this reading has not yet tied ``file`` to one of its sessions."""
    session = config.session
    return file not in config.dead and not (session is not None and session.file == file)


def not_mine(config: Config, file: str) -> Config:
    """The reading in which ``file`` belongs to another device."""
    return config.with_foreign(file)


def step_fd_appeared(config: Config, file: str, fd: int) -> list[Outcome]:
    bound = bindings(config, file, fd)
    if bound:
        return [ok(cfg) for _, cfg in bound]
    cont = config if config.session is not None else replace(
        config, session=Session(kind="unknown", file=file, fd=fd))
    return [misfit(cont, K013.RULE, f"fd {fd} appeared as a data fd",
                   "no data fd: no SET before it could have started a session")]


def _result_text(ret, errno) -> str:
    if ret is UNKNOWN:
        return "?"
    if isinstance(ret, int) and ret < 0 and isinstance(errno, str):
        return f"-1 {errno}"
    return str(ret)


def step_io(config: Config, event: DataIO,
            profile: DriverProfile | None = None) -> list[Outcome]:
    """read()/write() on a data-fd candidate."""
    profile = profile or generic_profile()
    outcomes = [o for how, cfg in bindings(config, event.file, event.fd)
                for o in _io(how, cfg, event, profile)]
    too_many = K018.check(event)
    if too_many is not None:   # a driver result no correct driver gives, whatever the reading
        outcomes = [Outcome(o.config, (*o.tags, Tag(K018.RULE, too_many))) for o in outcomes]
    return outcomes


def _io(how: str, config: Config, event: DataIO, profile: DriverProfile) -> list[Outcome]:
    fd = event.fd
    observed = f"{event.call}(fd {fd}) = {_result_text(event.ret, event.errno)}"
    result = succeeded(event.ret)
    errno = event.errno if isinstance(event.errno, str) else None
    moved = isinstance(event.ret, int) and event.ret > 0
    zero_len = event.requested == 0
    if zero_len and event.ret == 0:
        return [ok(config)]
    positioned = U016.check(event)
    if positioned is not None:
        if result is True or (errno is not None and errno != "ESPIPE"):
            return [misfit(config, K008.RULE, observed, "-1 ESPIPE")]
        return [ok(config, Tag(U016.RULE, positioned))]
    after_end = U007.check(how, event.call, fd)
    if after_end is not None:
        if moved or (result is True and not zero_len):
            return [misfit(config, K007.RULE, observed, "-1 ENODEV")]
        return [ok(config, Tag(U007.RULE, after_end))]
    session = config.session
    assert session is not None
    kind = session.kind
    if kind == "unknown" and result is True:
        kind = "saving" if event.direction == "read" else "resuming"
        config = config.with_session(kind=kind)
        session = config.session
    wrong = U006.check(event.direction, kind, fd)
    if wrong is not None:
        if result is True or (errno is not None and errno != "EBADF"):
            return [misfit(config, K008.RULE, observed, "-1 EBADF")]
        return [ok(config, Tag(U006.RULE, wrong))]
    if event.direction == "write":
        return _resume_write(config, event, result, errno, moved, profile)
    return _save_read(config, event, observed, result, errno, moved, profile)


def _resume_write(config: Config, event: DataIO, result, errno, moved,
                  profile: DriverProfile) -> list[Outcome]:
    if config.state != "RESUMING":  # only after a resync: treat like a dead session
        return [ok(config)]
    if result is True:
        if moved:
            config = config.with_session(moved=True, failed_commit=False)
        return [ok(config)]
    rejected = U019.check(config, event, result, errno)
    tags = (Tag(U019.RULE, rejected),) if rejected is not None else ()
    out = [Outcome(config, tags)]
    if result is False and errno in profile.write_bytes_taken_errnos and event.requested != 0:
        # some drivers take the bytes and then fail the call (a header check after the copy)
        out.append(Outcome(config.with_session(moved=True, failed_commit=False), tags))
    return out


def _save_read(config: Config, event: DataIO, observed: str, result, errno,
               moved, profile: DriverProfile) -> list[Outcome]:
    session = config.session
    assert session is not None
    state = config.state
    if state == "STOP_COPY":
        if moved and session.eof:
            return [misfit(config, K005.RULE, observed,
                           "0: end of stream in STOP_COPY is permanent")]
        if errno == "ENOMSG":
            return [misfit(config, K006.RULE, observed,
                           "data, 0 at the end of the stream, or a blocking error")]
        if event.ret == 0:
            return [ok(config.with_session(eof=True))]
        return [ok(config)]
    zero_in_precopy = K004.check(config, event, profile)
    if zero_in_precopy is not None:
        return [ok(config, Tag(K004.RULE, zero_in_precopy))]
    return [ok(config)]


def step_precopy_info(config: Config, file: str, fd: int, ret, errno, argsz) -> list[Outcome]:
    return [o for how, cfg in bindings(config, file, fd)
            for o in _precopy_info(how, cfg, fd, ret, errno, argsz)]


def _precopy_info(how: str, config: Config, fd: int, ret, errno, argsz) -> list[Outcome]:
    observed = f"PRECOPY_INFO(fd {fd}) = {_result_text(ret, errno)}"
    result = succeeded(ret)
    tags: list[Tag] = []
    malformed = U010.check_precopy_info(argsz)
    if malformed is not None:
        tags.append(Tag(U010.RULE, malformed))
    after_end = U007.check(how, "PRECOPY_INFO", fd)
    if after_end is not None:
        if result is True:
            return [misfit(config, K009.RULE, observed, "-1 EINVAL")]
        return [ok(config, *tags, Tag(U007.RULE, after_end))]
    session = config.session
    assert session is not None
    misplaced = U009.check(session.kind, config.state)
    if misplaced is not None:
        if result is True or (session.kind == "resuming" and isinstance(errno, str)
                              and errno != "ENOTTY"):
            return [misfit(config, K009.RULE, observed,
                           f"-1 {'ENOTTY' if session.kind == 'resuming' else 'EINVAL'}")]
        return [ok(config, *tags, Tag(U009.RULE, misplaced))]
    if session.kind == "unknown":
        config = config.with_session(kind="saving")
    return [ok(config, *tags)]


def step_data_close(config: Config, file: str, fd: int, how: str) -> list[Outcome]:
    bound = bindings(config, file, fd)
    if not bound:
        return [ok(config)]
    return [o for _, cfg in bound for o in _close(cfg, file, how)]


def _close(config: Config, file: str, how: str) -> list[Outcome]:
    session = config.session
    tags: list[Tag] = []
    not_closed = U013.check(how)
    if not_closed is not None and (
        file in config.dead or (session is not None and session.file == file)
    ):
        tags.append(Tag(U013.RULE, not_closed))
    if file in config.dead:
        return [ok(config.with_dead(config.dead - {file}), *tags)]
    if session is not None and session.file == file:
        return [ok(config.with_session(closed=True), *tags)]
    return [ok(config)]


def step_data_misc(config: Config, file: str, fd: int, what: str,
                   ret: Any = UNKNOWN) -> list[Outcome]:
    """lseek / foreign ioctl: legal to try, always refused.

    A data fd is stream_open()ed: vfs_llseek() answers -ESPIPE before any driver code
    runs (fs/read_write.c, Linux 6.12), so an lseek that succeeded cannot be on it.
    """
    bound = bindings(config, file, fd)
    if not bound:
        return [ok(config)]
    if what == "lseek" and succeeded(ret) is True:
        return [misfit(cfg, K008.RULE, f"lseek(fd {fd}) = {ret}", "-1 ESPIPE")
                for _, cfg in bound]
    unit = U016 if what == "lseek" else U020
    return [ok(cfg, Tag(unit.RULE, unit.check_call(what, fd))) for _, cfg in bound]


def step_device_close(config: Config, profile: DriverProfile | None = None) -> list[Outcome]:
    """close_device: every driver ends its sessions; the state is kept (mtty) or reset
    (xe at close; the PCI drivers at the next open)."""
    profile = profile or generic_profile()
    after = config.end_session()
    if profile.close_state is not None:
        after = after.with_state(profile.close_state)
    return [ok(after)]


def reopen_states(config: Config, profile: DriverProfile | None = None) -> list[Config]:
    """open_device again: RUNNING (every PCI driver) and/or the state at close (mtty)."""
    profile = profile or generic_profile()
    closed = config.end_session()
    out: list[Config] = []
    if "reset" in profile.open_states:
        out.append(closed.with_state("RUNNING"))
    if "kept" in profile.open_states:
        out.append(closed)
    return out


def step_access(config: Config, call: str) -> list[Outcome]:
    touched = U017.check(config, call)
    if touched is not None:
        return [ok(config, Tag(U017.RULE, touched))]
    return [ok(config)]


def step_logging(config: Config, op: str, feature: str, ret) -> list[Outcome]:
    result = succeeded(ret)
    tags: list[Tag] = []
    unpaired = U018.check(config, feature)
    if unpaired is not None:
        tags.append(Tag(U018.RULE, unpaired))
    logging = config.logging
    if feature == "DMA_LOGGING_START" and result:
        logging = True
    elif feature == "DMA_LOGGING_STOP" and result:
        logging = False
    return [ok(replace(config, logging=logging), *tags)]


# --- request rules -------------------------------------------------------------------

#: the VMM rules about a SET request; at most one applies to a request in one reading
REQUEST_RULES = (U005, U003, U002, U004)


def request_problems(answer: Answer, state: str, error_state: str | None) -> list[tuple[Rule, str]]:
    """The VMM rules a request breaks in this reading (empty when the request is legal)."""
    for unit in REQUEST_RULES:
        message = unit.check(answer, state, error_state)
        if message is not None:
            return [(unit.RULE, message)]
    return []
