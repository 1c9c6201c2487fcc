"""The uAPI as data: load and validate a spec file into immutable objects.

A spec is the single source of truth. The graph model (``fsm``) and the SMT encoding
(``vfio_migcheck.prove``) are two independent compilations of the objects defined here.
"""

from __future__ import annotations

import sys
from dataclasses import field
from importlib import resources
from pathlib import Path
from typing import Any

from vfio_migcheck.records import Record, record

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

SESSION_EFFECTS = (
    "none",
    "keeps",
    "creates_saving",
    "creates_resuming",
    "ends_saving",
    "ends_resuming",
)
REFINEMENT_KINDS = ("interior_allowed_within_group",)
BUILTIN_SPECS = ("linux-6.12", "linux-5.18")
DEFAULT_SPEC = "linux-6.12"


class SpecError(ValueError):
    """A spec file is malformed; the message names the file, the key and the problem."""

    def __init__(self, file: str, key: str, problem: str) -> None:
        self.file, self.key, self.problem = file, key, problem
        # "-": the problem is the whole file (unreadable, not TOML), not one key
        super().__init__(f"{file}: {problem}" if key == "-" else f"{file}: {key}: {problem}")


@record
class State(Record):
    name: str
    value: int
    requires: frozenset[str]
    requestable: bool = True
    error: bool = False


@record
class Condition(Record):
    """Flags that must be set (``requires``) and must be clear (``forbids``)."""

    requires: frozenset[str] = frozenset()
    forbids: frozenset[str] = frozenset()

    def holds(self, flag_names: frozenset[str]) -> bool:
        return self.requires <= flag_names and not (self.forbids & flag_names)


@record
class Arc(Record):
    src: str
    dst: str
    condition: Condition
    session: str = "none"
    cite: str = ""


@record
class Blocked(Record):
    src: str
    dst: str
    condition: Condition
    reason: str
    cite: str = ""


@record
class Refinement(Record):
    id: str
    kind: str
    group: str
    text: str
    cite: str = ""


@record
class PathRules(Record):
    shortest: bool
    no_interior: tuple[str, ...]
    refinements: tuple[Refinement, ...]
    cite: str = ""


@record
class Spec(Record):
    """One revision of the migration uAPI, as declared by a spec file."""

    name: str
    description: str
    source: str
    file: str
    state_limit: int
    flags: dict[str, int]
    mandatory_flags: frozenset[str]
    defined_flag_sets: tuple[int, ...]
    groups: dict[str, frozenset[str]]
    states: dict[str, State]
    arcs: tuple[Arc, ...]
    blocked: tuple[Blocked, ...]
    path: PathRules
    failure_anywhere_on_path: bool
    failure_may_enter_error: bool
    reset_state: str
    reset_ends_sessions: bool
    known_refutations: tuple[str, ...] = field(default=())

    @property
    def all_flags_mask(self) -> int:
        mask = 0
        for bit in self.flags.values():
            mask |= bit
        return mask

    def flag_names(self, flags: int) -> frozenset[str]:
        return frozenset(name for name, bit in self.flags.items() if flags & bit)

    def state_by_value(self, value: int) -> State | None:
        for state in self.states.values():
            if state.value == value:
                return state
        return None

    @property
    def error_state(self) -> str | None:
        for state in self.states.values():
            if state.error:
                return state.name
        return None

    def group_of(self, state: str) -> tuple[str, ...]:
        return tuple(g for g, members in self.groups.items() if state in members)


#: enum vfio_device_mig_state, include/uapi/linux/vfio.h (Linux 6.12)
UAPI_STATE_NAMES = {0: "ERROR", 1: "STOP", 2: "RUNNING", 3: "STOP_COPY", 4: "RESUMING",
                    5: "RUNNING_P2P", 6: "PRE_COPY", 7: "PRE_COPY_P2P"}
UAPI_STATE_VALUES = {name: value for value, name in UAPI_STATE_NAMES.items()}
#: the states of every v2 device (VFIO_MIGRATION_STOP_COPY is mandatory)
CORE_STATES = ("ERROR", "STOP", "RUNNING", "STOP_COPY", "RESUMING")


def builtin_spec_path(name: str) -> Path:
    return Path(str(resources.files("vfio_migcheck.model") / "specs" / f"{name}.toml"))


def load_spec(name_or_path: str | Path | None = None) -> Spec:
    """Load a built-in spec by name (``linux-6.12``) or a user spec from a file path."""
    if name_or_path is None:
        name_or_path = DEFAULT_SPEC
    text_name = str(name_or_path)
    if text_name in BUILTIN_SPECS:
        path = builtin_spec_path(text_name)
    else:
        path = Path(text_name)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        known = ", ".join(BUILTIN_SPECS)
        problem = f"cannot read spec ({exc.strerror}); built-in specs: {known}"
        raise SpecError(str(path), "-", problem) from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        problem = f"not UTF-8 text ({exc.reason} at byte {exc.start})"
        raise SpecError(str(path), "-", problem) from None
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(str(path), "-", f"not valid TOML: {exc}") from None
    return parse_spec(data, str(path), uapi=True)


def parse_spec(data: dict[str, Any], file: str = "<spec>", uapi: bool = False) -> Spec:
    """Validate a decoded TOML document and build a :class:`Spec`.

    ``uapi``: the spec describes the VFIO uAPI (every spec file a user loads), so its
    states must carry the uAPI's names; abstract specs (model tests) may name them freely.
    """
    return _SpecReader(data, file, uapi).read()


class _SpecReader:
    """Walks the TOML document, checking each key and naming it in every error."""

    def __init__(self, data: dict[str, Any], file: str, uapi: bool = False) -> None:
        self.data = data
        self.file = file
        self.uapi = uapi

    def fail(self, key: str, problem: str) -> SpecError:
        return SpecError(self.file, key, problem)

    def table(self, parent: dict, key: str, where: str, required: bool = True) -> dict:
        value = parent.get(key)
        if value is None:
            if required:
                raise self.fail(where, "missing table")
            return {}
        if not isinstance(value, dict):
            raise self.fail(where, f"must be a table, got {type(value).__name__}")
        return value

    def typed(self, parent: dict, key: str, where: str, kind: type | tuple, default: Any = ...):
        if key not in parent:
            if default is ...:
                raise self.fail(where, "missing")
            return default
        value = parent[key]
        if isinstance(value, bool) and kind is int:
            raise self.fail(where, "must be an integer, got a boolean")
        if not isinstance(value, kind):
            names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
            raise self.fail(where, f"must be {names}, got {type(value).__name__} {value!r}")
        return value

    def names(self, parent: dict, key: str, where: str, allowed: set[str], what: str
              ) -> frozenset[str]:
        value = self.typed(parent, key, where, list, [])
        out = set()
        for i, item in enumerate(value):
            if not isinstance(item, str):
                raise self.fail(f"{where}[{i}]", f"must be a {what} name, got {item!r}")
            if item not in allowed:
                raise self.fail(f"{where}[{i}]",
                                f"unknown {what} {item!r}; known: {sorted(allowed)}")
            out.add(item)
        return frozenset(out)

    def read(self) -> Spec:
        d = self.data
        known_top = {"spec", "flags", "flag_sets", "groups", "states", "arcs", "blocked", "path",
                     "failure", "reset", "known_refutations"}
        for key in d:
            if key not in known_top:
                raise self.fail(key, f"unknown top-level key; expected one of {sorted(known_top)}")
        meta = self.table(d, "spec", "spec")
        name = self.typed(meta, "name", "spec.name", str)
        description = self.typed(meta, "description", "spec.description", str, "")
        source = self.typed(meta, "source", "spec.source", str, "")
        state_limit = self.typed(meta, "state_limit", "spec.state_limit", int)
        if state_limit < 1:
            raise self.fail("spec.state_limit", "must be positive")

        flags_t = self.table(d, "flags", "flags")
        flags: dict[str, int] = {}
        for fname, bit in flags_t.items():
            bit = self.typed(flags_t, fname, f"flags.{fname}", int)
            if bit <= 0 or bit & (bit - 1):
                raise self.fail(f"flags.{fname}", f"must be a single bit, got {bit:#x}")
            if bit in flags.values():
                raise self.fail(f"flags.{fname}", f"bit {bit:#x} is used by another flag")
            flags[fname] = bit
        if not flags:
            raise self.fail("flags", "at least one flag is needed")
        all_bits = sum(flags.values())

        fs = self.table(d, "flag_sets", "flag_sets")
        mandatory = self.names(fs, "mandatory", "flag_sets.mandatory", set(flags), "flag")
        defined_raw = self.typed(fs, "defined", "flag_sets.defined", list)
        defined: list[int] = []
        for i, value in enumerate(defined_raw):
            if not isinstance(value, int) or isinstance(value, bool):
                raise self.fail(f"flag_sets.defined[{i}]", f"must be an integer, got {value!r}")
            if value & ~all_bits:
                raise self.fail(f"flag_sets.defined[{i}]", f"{value:#x} has bits no flag defines")
            missing = [f for f in mandatory if not value & flags[f]]
            if missing:
                raise self.fail(f"flag_sets.defined[{i}]", f"{value:#x} lacks mandatory {missing}")
            defined.append(value)
        if not defined:
            raise self.fail("flag_sets.defined", "at least one defined flag set is needed")

        states_t = self.table(d, "states", "states")
        states: dict[str, State] = {}
        values: dict[int, str] = {}
        for sname, body in states_t.items():
            where = f"states.{sname}"
            if not isinstance(body, dict):
                raise self.fail(where, "must be a table")
            for key in body:
                if key not in {"value", "requires", "requestable", "error"}:
                    raise self.fail(f"{where}.{key}", "unknown key")
            value = self.typed(body, "value", f"{where}.value", int)
            if not 0 <= value < state_limit:
                raise self.fail(f"{where}.value", f"{value} is outside 0..{state_limit - 1}")
            if value in values:
                raise self.fail(f"{where}.value", f"{value} is already used by {values[value]}")
            values[value] = sname
            error = self.typed(body, "error", f"{where}.error", bool, False)
            requestable = self.typed(body, "requestable", f"{where}.requestable", bool, not error)
            requires = self.names(body, "requires", f"{where}.requires", set(flags), "flag")
            if error and requestable:
                raise self.fail(f"{where}.requestable", "the error state cannot be requestable")
            states[sname] = State(sname, value, requires, requestable, error)
        if sum(1 for s in states.values() if s.error) > 1:
            raise self.fail("states", "at most one state may have error = true")
        if not states:
            raise self.fail("states", "at least one state is needed")
        if self.uapi:
            self.check_uapi_names(states, flags)

        groups_t = self.table(d, "groups", "groups", required=False)
        groups = {
            g: self.names(groups_t, g, f"groups.{g}", set(states), "state") for g in groups_t
        }

        arcs = self.read_arcs(d, states, flags)
        blocked = self.read_blocked(d, states, flags)
        path = self.read_path(d, groups)

        failure = self.table(d, "failure", "failure", required=False)
        anywhere = self.typed(failure, "may_stop_anywhere_on_path",
                              "failure.may_stop_anywhere_on_path", bool, True)
        may_error = self.typed(failure, "may_enter_error", "failure.may_enter_error", bool, True)
        reset = self.table(d, "reset", "reset", required=False)
        reset_state = self.typed(reset, "state", "reset.state", str, "RUNNING")
        if reset_state not in states:
            raise self.fail("reset.state", f"unknown state {reset_state!r}")
        ends = self.typed(reset, "ends_sessions", "reset.ends_sessions", bool, True)
        known = self.typed(d, "known_refutations", "known_refutations", list, [])
        for i, item in enumerate(known):
            if not isinstance(item, str):
                raise self.fail(f"known_refutations[{i}]", "must be a property id such as 'P3'")

        return Spec(
            name=name, description=description, source=source, file=self.file,
            state_limit=state_limit, flags=flags, mandatory_flags=mandatory,
            defined_flag_sets=tuple(defined), groups=groups, states=states, arcs=arcs,
            blocked=blocked, path=path, failure_anywhere_on_path=anywhere,
            failure_may_enter_error=may_error, reset_state=reset_state,
            reset_ends_sessions=ends, known_refutations=tuple(known),
        )

    def check_uapi_names(self, states: dict[str, State], flags: dict[str, int]) -> None:
        """The uAPI's states are named constants (VFIO_DEVICE_STATE_*): a revision may add
        states (values >= 8) but not rename the uAPI's, which the checker's rules name.
        Without this, a spec that loads could still fail in ``check`` (issue 11, item 8).
        """
        for state in states.values():
            uapi = UAPI_STATE_NAMES.get(state.value)
            if uapi is not None and state.name != uapi:
                raise self.fail(f"states.{state.name}.value",
                                f"{state.value} is VFIO_DEVICE_STATE_{uapi} in the uAPI: the "
                                f"state must be named {uapi} (new states take values >= 8)")
        needed = set(CORE_STATES)
        if "P2P" in flags:
            needed.add("RUNNING_P2P")
        if "PRE_COPY" in flags:
            needed.add("PRE_COPY")
            if "P2P" in flags:
                needed.add("PRE_COPY_P2P")
        missing = sorted(needed - set(states), key=lambda n: UAPI_STATE_VALUES[n])
        if missing:
            raise self.fail("states", f"missing {', '.join(missing)}: the uAPI defines them for "
                                      f"the flags {', '.join(flags)} and the checker needs them")

    def endpoint(self, body: dict, key: str, where: str, states: dict[str, State]) -> str:
        value = self.typed(body, key, f"{where}.{key}", str)
        if value not in states:
            raise self.fail(f"{where}.{key}", f"unknown state {value!r}; known: {sorted(states)}")
        if states[value].error:
            raise self.fail(f"{where}.{key}", "the error state cannot be an arc end")
        return value

    def condition(self, body: dict, where: str, flags: dict[str, int]) -> Condition:
        requires = self.names(body, "requires", f"{where}.requires", set(flags), "flag")
        forbids = self.names(body, "forbids", f"{where}.forbids", set(flags), "flag")
        if requires & forbids:
            raise self.fail(where, f"{sorted(requires & forbids)} both required and forbidden")
        return Condition(requires, forbids)

    def entries(self, d: dict, key: str) -> list[dict]:
        items = self.typed(d, key, key, list, [])
        for i, body in enumerate(items):
            if not isinstance(body, dict):
                raise self.fail(f"{key}[{i}]", f"must be a table ([[{key}]])")
        return items

    def read_arcs(self, d: dict, states: dict, flags: dict) -> tuple[Arc, ...]:
        arcs: list[Arc] = []
        seen: set[tuple[str, str]] = set()
        for i, body in enumerate(self.entries(d, "arcs")):
            where = f"arcs[{i}]"
            for key in body:
                if key not in {"from", "to", "requires", "forbids", "session", "cite"}:
                    raise self.fail(f"{where}.{key}", "unknown key")
            src = self.endpoint(body, "from", where, states)
            dst = self.endpoint(body, "to", where, states)
            if src == dst:
                raise self.fail(where, f"an arc cannot loop ({src} -> {dst})")
            session = self.typed(body, "session", f"{where}.session", str, "none")
            if session not in SESSION_EFFECTS:
                raise self.fail(f"{where}.session", f"{session!r} is not one of {SESSION_EFFECTS}")
            cond = self.condition(body, where, flags)
            key = (src, dst)
            if key in seen:
                # Two declarations of one arc are allowed only under disjoint conditions.
                for other in arcs:
                    if (other.src, other.dst) == key and _overlap(other.condition, cond):
                        raise self.fail(
                            where, f"arc {src} -> {dst} is declared twice for the same flags")
            seen.add(key)
            cite = self.typed(body, "cite", f"{where}.cite", str, "")
            arcs.append(Arc(src, dst, cond, session, cite))
        if not arcs:
            raise self.fail("arcs", "at least one arc is needed")
        return tuple(arcs)

    def read_blocked(self, d: dict, states: dict, flags: dict) -> tuple[Blocked, ...]:
        out: list[Blocked] = []
        for i, body in enumerate(self.entries(d, "blocked")):
            where = f"blocked[{i}]"
            for key in body:
                if key not in {"from", "to", "requires", "forbids", "reason", "cite"}:
                    raise self.fail(f"{where}.{key}", "unknown key")
            src = self.endpoint(body, "from", where, states)
            dst = self.endpoint(body, "to", where, states)
            cond = self.condition(body, where, flags)
            default = f"{src} -> {dst} is blocked"
            reason = self.typed(body, "reason", f"{where}.reason", str, default)
            cite = self.typed(body, "cite", f"{where}.cite", str, "")
            out.append(Blocked(src, dst, cond, reason, cite))
        return tuple(out)

    def read_path(self, d: dict, groups: dict[str, frozenset[str]]) -> PathRules:
        body = self.table(d, "path", "path")
        for key in body:
            if key not in {"shortest", "no_interior", "refinements", "cite"}:
                raise self.fail(f"path.{key}", "unknown key")
        shortest = self.typed(body, "shortest", "path.shortest", bool, True)
        if not shortest:
            raise self.fail("path.shortest", "only shortest-path semantics are supported")
        no_interior = self.names(body, "no_interior", "path.no_interior", set(groups), "group")
        refinements: list[Refinement] = []
        for i, r in enumerate(self.typed(body, "refinements", "path.refinements", list, [])):
            where = f"path.refinements[{i}]"
            if not isinstance(r, dict):
                raise self.fail(where, "must be a table")
            rid = self.typed(r, "id", f"{where}.id", str)
            kind = self.typed(r, "kind", f"{where}.kind", str)
            if kind not in REFINEMENT_KINDS:
                raise self.fail(f"{where}.kind", f"{kind!r} is not one of {REFINEMENT_KINDS}")
            group = self.typed(r, "group", f"{where}.group", str)
            if group not in groups:
                raise self.fail(f"{where}.group", f"unknown group {group!r}")
            text = self.typed(r, "text", f"{where}.text", str, "")
            cite = self.typed(r, "cite", f"{where}.cite", str, "")
            refinements.append(Refinement(rid, kind, group, text, cite))
        cite = self.typed(body, "cite", "path.cite", str, "")
        return PathRules(shortest, tuple(sorted(no_interior)), tuple(refinements), cite)


def _overlap(a: Condition, b: Condition) -> bool:
    """True when some flag set satisfies both conditions."""
    return not (a.requires & b.forbids) and not (b.requires & a.forbids)
