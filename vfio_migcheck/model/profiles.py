"""Driver profiles as data: what each real driver does where the uAPI leaves a choice.

A profile (``model/drivers/<name>.toml``) is an overlay on a spec. The checker reads a trace
either with one profile (exact: only what that driver does) or with the *generic* profile,
the union of every built-in profile, so that nothing some in-tree driver really does is
reported as a driver error. Every behaviour the generic reading allows only because some
drivers do it can be explained with :meth:`DriverProfile.who`, which names those drivers.
"""

from __future__ import annotations

import sys
from dataclasses import field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from vfio_migcheck.model.spec import SpecError
from vfio_migcheck.records import Record, record

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

GENERIC = "generic"
OPEN_STATES = ("reset", "kept")
KEEPS_WITHOUT_SESSION = ("none", "creates_saving")
PRECOPY_ENDS = ("ENOMSG", "zero")
FAILURE_SESSIONS = ("kept", "ended")
STATE_NAMES = ("STOP", "RUNNING", "STOP_COPY", "RESUMING", "RUNNING_P2P", "PRE_COPY",
               "PRE_COPY_P2P", "ERROR")


class ProfileError(SpecError):
    """A profile file is malformed; the message names the file, the key and the problem."""


@record
class Fact(Record):
    text: str
    cite: str
    verified: str = ""          # kernel version the citation was read in (default: the profile's)


@record
class ArcFailure(Record):
    """A failing arc whose outcome the generic failure reading does not cover."""

    src: str
    dst: str
    errno: str
    session: str                # kept | ended
    cite: str
    driver: str = ""


@record
class DriverProfile(Record):
    """One driver's choices (or, for ``generic``, the union of every driver's)."""

    name: str
    modules: tuple[str, ...]
    aliases: tuple[str, ...]
    description: str
    kernel: str
    source: str
    spec: str
    flag_sets: tuple[int, ...]
    anon_inodes: tuple[str, ...]
    sysfs: tuple[str, ...]
    qemu: tuple[str, ...]
    open_states: frozenset[str]               # reset | kept
    close_ends_sessions: bool
    close_state: str | None                   # a state close_device moves to, or None (kept)
    keeps_without_session: frozenset[str]     # none | creates_saving
    precopy_ends: frozenset[str]              # ENOMSG | zero
    reset_errnos_after_reset: frozenset[str]
    reset_deferred: bool
    async_error: bool
    error_set_errno: str | None
    async_session_loss: bool
    write_bytes_taken_errnos: frozenset[str]
    write_broken_after_failure: bool
    failures: tuple[ArcFailure, ...]
    facts: tuple[Fact, ...]
    file: str = ""
    members: tuple[DriverProfile, ...] = field(default=(), compare=False, repr=False)

    @property
    def is_generic(self) -> bool:
        return self.name == GENERIC

    def names(self) -> tuple[str, ...]:
        """Every name that selects this profile (short name, module names, aliases)."""
        return (self.name, *self.modules, *self.aliases)

    def who(self, predicate) -> list[str]:
        """The drivers (by short name) of which ``predicate(profile)`` holds."""
        pool = self.members or (self,)
        return sorted(p.name for p in pool if predicate(p))

    def who_text(self, predicate) -> str:
        names = self.who(predicate)
        return ", ".join(names) if names else "no known driver"

    def failures_for(self, src: str, dst: str) -> list[ArcFailure]:
        return [f for f in self.failures if (f.src, f.dst) == (src, dst)]


# --- loading ---------------------------------------------------------------------------------

def profiles_dir() -> Path:
    return Path(str(resources.files("vfio_migcheck.model") / "drivers"))


def builtin_profile_names() -> list[str]:
    return sorted(p.stem for p in profiles_dir().glob("*.toml") if p.stem != "common")


def load_profile_file(path: str | Path) -> DriverProfile:
    """Read and validate one profile file."""
    data = _read_toml(Path(path))
    return _ProfileReader(data, str(path)).read()


def load_common_facts() -> tuple[Fact, ...]:
    path = profiles_dir() / "common.toml"
    data = _read_toml(path)
    reader = _ProfileReader(data, str(path))
    for key in data:
        if key not in ("common", "facts"):
            raise reader.fail(key, "unknown top-level key; expected common, facts")
    return reader.facts(data)


def builtin_profiles() -> list[DriverProfile]:
    return list(_builtin_profiles())


@lru_cache(maxsize=1)
def _builtin_profiles() -> tuple[DriverProfile, ...]:
    return tuple(load_profile_file(profiles_dir() / f"{name}.toml")
                 for name in builtin_profile_names())


def generic_profile(members: list[DriverProfile] | None = None) -> DriverProfile:
    """The union of every driver's behaviour: what the checker allows without a profile."""
    if members is None:
        return _generic()
    return _union(members)


@lru_cache(maxsize=1)
def _generic() -> DriverProfile:
    return _union(list(_builtin_profiles()))


def _union(members: list[DriverProfile]) -> DriverProfile:

    def union(attr: str) -> frozenset:
        out: set = set()
        for p in members:
            out |= set(getattr(p, attr))
        return frozenset(out)

    return DriverProfile(
        name=GENERIC, modules=(), aliases=("any", "none"),
        description="every behaviour of every built-in driver profile",
        kernel="Linux 6.12.118", source="", spec="linux-6.12",
        flag_sets=tuple(sorted(union("flag_sets"))),
        anon_inodes=(), sysfs=(), qemu=(),
        open_states=union("open_states"),
        close_ends_sessions=True, close_state=None,
        keeps_without_session=union("keeps_without_session"),
        precopy_ends=union("precopy_ends"),
        reset_errnos_after_reset=union("reset_errnos_after_reset"),
        reset_deferred=any(p.reset_deferred for p in members),
        async_error=any(p.async_error for p in members),
        error_set_errno=None,
        async_session_loss=any(p.async_session_loss for p in members),
        write_bytes_taken_errnos=union("write_bytes_taken_errnos"),
        write_broken_after_failure=any(p.write_broken_after_failure for p in members),
        failures=tuple(f for p in members for f in p.failures),
        facts=(), members=tuple(members),
    )


def profile_named(name: str) -> DriverProfile | None:
    """The built-in profile a name selects (short name, module name, alias), or None."""
    key = name.strip().lower().replace("-", "_")
    for profile in _builtin_profiles():
        if key in {n.lower().replace("-", "_") for n in profile.names()}:
            return profile
    return None


def find_profile(name: str) -> DriverProfile:
    """A built-in profile by short name, module name or alias, or a profile file path."""
    wanted = name.strip()
    key = wanted.lower().replace("-", "_")
    if key in ("generic", "any", "none", ""):
        return generic_profile()
    named = profile_named(wanted)
    if named is not None:
        return named
    path = Path(wanted)
    if path.suffix == ".toml" and path.exists():
        return load_profile_file(path)
    known = ", ".join(builtin_profile_names())
    raise ProfileError(wanted, "-", f"unknown driver; built-in profiles: {known}, generic")


def detect_profile(anon_inode: str | None = None, sysfs_path: str | None = None,
                   qemu_name: str | None = None) -> DriverProfile | None:
    """The profile whose detection hints match what a trace shows, or None."""
    if anon_inode and anon_inode.startswith("anon_inode:"):
        anon_inode = anon_inode[len("anon_inode:"):]
    for profile in _builtin_profiles():
        if anon_inode and anon_inode in profile.anon_inodes:
            return profile
        if sysfs_path and any(s in sysfs_path for s in profile.sysfs):
            return profile
        if qemu_name and qemu_name in profile.qemu:
            return profile
    return None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ProfileError(str(path), "-", f"cannot read profile ({exc.strerror})") from None
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ProfileError(str(path), "-",
                           f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(str(path), "-", f"not valid TOML: {exc}") from None


class _ProfileReader:
    """Walks a profile document, naming the key in every error."""

    TOP = {"driver", "detect", "open", "close", "saving", "reset", "error", "async", "write",
           "failures", "facts"}

    def __init__(self, data: dict[str, Any], file: str) -> None:
        self.data = data
        self.file = file

    def fail(self, key: str, problem: str) -> ProfileError:
        return ProfileError(self.file, key, problem)

    def table(self, key: str, required: bool = False) -> dict:
        value = self.data.get(key)
        if value is None:
            if required:
                raise self.fail(key, "missing table")
            return {}
        if not isinstance(value, dict):
            raise self.fail(key, f"must be a table, got {type(value).__name__}")
        return value

    def value(self, body: dict, key: str, where: str, kind: type, default: Any = ...) -> Any:
        if key not in body:
            if default is ...:
                raise self.fail(where, "missing")
            return default
        value = body[key]
        if kind is int and isinstance(value, bool):
            raise self.fail(where, "must be an integer, got a boolean")
        if not isinstance(value, kind):
            raise self.fail(where, f"must be {kind.__name__}, got {type(value).__name__} "
                                   f"{value!r}")
        return value

    def strings(self, body: dict, key: str, where: str, allowed: tuple[str, ...] | None = None
                ) -> tuple[str, ...]:
        items = self.value(body, key, where, list, [])
        out: list[str] = []
        for i, item in enumerate(items):
            if not isinstance(item, str):
                raise self.fail(f"{where}[{i}]", f"must be a string, got {item!r}")
            if allowed is not None and item not in allowed:
                raise self.fail(f"{where}[{i}]", f"{item!r} is not one of {list(allowed)}")
            out.append(item)
        return tuple(out)

    def keys(self, body: dict, where: str, allowed: set[str]) -> None:
        for key in body:
            if key not in allowed:
                raise self.fail(f"{where}.{key}", f"unknown key; expected one of {sorted(allowed)}")

    def facts(self, data: dict) -> tuple[Fact, ...]:
        items = self.value(data, "facts", "facts", list, [])
        out: list[Fact] = []
        for i, body in enumerate(items):
            where = f"facts[{i}]"
            if not isinstance(body, dict):
                raise self.fail(where, "must be a table ([[facts]])")
            self.keys(body, where, {"text", "cite", "verified"})
            text = self.value(body, "text", f"{where}.text", str)
            cite = self.value(body, "cite", f"{where}.cite", str)
            if not cite.strip():
                raise self.fail(f"{where}.cite", "a fact needs a kernel citation")
            out.append(Fact(text, cite, self.value(body, "verified", f"{where}.verified", str,
                                                   "")))
        return tuple(out)

    def read(self) -> DriverProfile:
        d = self.data
        for key in d:
            if key not in self.TOP:
                raise self.fail(key, f"unknown top-level key; expected one of {sorted(self.TOP)}")
        drv = self.table("driver", required=True)
        self.keys(drv, "driver", {"name", "modules", "aliases", "description", "kernel",
                                  "source", "spec", "flag_sets"})
        name = self.value(drv, "name", "driver.name", str)
        if not name or name.lower() in ("generic", "any", "none"):
            raise self.fail("driver.name", f"{name!r} is reserved")
        flag_sets = self.value(drv, "flag_sets", "driver.flag_sets", list)
        if not flag_sets:
            raise self.fail("driver.flag_sets", "at least one flag set is needed")
        for i, fs in enumerate(flag_sets):
            if not isinstance(fs, int) or isinstance(fs, bool) or not 0 < fs < 0x100:
                raise self.fail(f"driver.flag_sets[{i}]", f"must be a flag mask, got {fs!r}")
            if not fs & 0x1:
                raise self.fail(f"driver.flag_sets[{i}]", f"{fs:#x} lacks STOP_COPY (0x1)")

        detect = self.table("detect")
        self.keys(detect, "detect", {"anon_inodes", "sysfs", "qemu"})
        opened = self.table("open")
        self.keys(opened, "open", {"state"})
        open_state = self.value(opened, "state", "open.state", str, "reset")
        if open_state not in OPEN_STATES:
            raise self.fail("open.state", f"{open_state!r} is not one of {list(OPEN_STATES)}")
        close = self.table("close")
        self.keys(close, "close", {"ends_sessions", "state"})
        close_state = self.value(close, "state", "close.state", str, "") or None
        if close_state is not None and close_state not in STATE_NAMES:
            raise self.fail("close.state", f"unknown state {close_state!r}")
        saving = self.table("saving")
        self.keys(saving, "saving", {"keeps_without_session", "precopy_end"})
        kws = self.value(saving, "keeps_without_session", "saving.keeps_without_session", str,
                         "none")
        if kws not in KEEPS_WITHOUT_SESSION:
            raise self.fail("saving.keeps_without_session",
                            f"{kws!r} is not one of {list(KEEPS_WITHOUT_SESSION)}")
        reset = self.table("reset")
        self.keys(reset, "reset", {"errnos_after_reset", "deferred"})
        error = self.table("error")
        self.keys(error, "error", {"async", "set_errno", "failed_set_enters_error"})
        asyn = self.table("async")
        self.keys(asyn, "async", {"session_loss"})
        write = self.table("write")
        self.keys(write, "write", {"bytes_taken_errnos", "refused_errnos",
                                   "broken_after_failure"})

        return DriverProfile(
            name=name,
            modules=self.strings(drv, "modules", "driver.modules"),
            aliases=self.strings(drv, "aliases", "driver.aliases"),
            description=self.value(drv, "description", "driver.description", str, ""),
            kernel=self.value(drv, "kernel", "driver.kernel", str, ""),
            source=self.value(drv, "source", "driver.source", str, ""),
            spec=self.value(drv, "spec", "driver.spec", str, "linux-6.12"),
            flag_sets=tuple(flag_sets),
            anon_inodes=self.strings(detect, "anon_inodes", "detect.anon_inodes"),
            sysfs=self.strings(detect, "sysfs", "detect.sysfs"),
            qemu=self.strings(detect, "qemu", "detect.qemu"),
            open_states=frozenset({open_state}),
            close_ends_sessions=self.value(close, "ends_sessions", "close.ends_sessions", bool,
                                           True),
            close_state=close_state,
            keeps_without_session=frozenset({kws}),
            precopy_ends=frozenset(self.strings(saving, "precopy_end", "saving.precopy_end",
                                                PRECOPY_ENDS)),
            reset_errnos_after_reset=frozenset(self.strings(
                reset, "errnos_after_reset", "reset.errnos_after_reset")),
            reset_deferred=self.value(reset, "deferred", "reset.deferred", bool, False),
            async_error=self.value(error, "async", "error.async", bool, False),
            error_set_errno=self.value(error, "set_errno", "error.set_errno", str, "") or None,
            async_session_loss=self.value(asyn, "session_loss", "async.session_loss", bool,
                                          False),
            write_bytes_taken_errnos=frozenset(self.strings(
                write, "bytes_taken_errnos", "write.bytes_taken_errnos")),
            write_broken_after_failure=self.value(
                write, "broken_after_failure", "write.broken_after_failure", bool, False),
            failures=self.failures(name),
            facts=self.facts(d),
            file=self.file,
        )

    def failures(self, driver: str) -> tuple[ArcFailure, ...]:
        items = self.value(self.data, "failures", "failures", list, [])
        out: list[ArcFailure] = []
        for i, body in enumerate(items):
            where = f"failures[{i}]"
            if not isinstance(body, dict):
                raise self.fail(where, "must be a table ([[failures]])")
            self.keys(body, where, {"from", "to", "errno", "session", "cite"})
            src = self.value(body, "from", f"{where}.from", str)
            dst = self.value(body, "to", f"{where}.to", str)
            for key, state in (("from", src), ("to", dst)):
                if state not in STATE_NAMES or state == "ERROR":
                    raise self.fail(f"{where}.{key}", f"unknown or unusable state {state!r}")
            session = self.value(body, "session", f"{where}.session", str)
            if session not in FAILURE_SESSIONS:
                raise self.fail(f"{where}.session",
                                f"{session!r} is not one of {list(FAILURE_SESSIONS)}")
            errno = self.value(body, "errno", f"{where}.errno", str)
            if not errno.isupper():
                raise self.fail(f"{where}.errno", f"{errno!r} is not an errno name")
            cite = self.value(body, "cite", f"{where}.cite", str)
            out.append(ArcFailure(src, dst, errno, session, cite, driver))
        return tuple(out)
