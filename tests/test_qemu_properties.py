"""Property tests: records printed from QEMU's own format strings parse back; nothing raises.

The format strings in fixtures/qemu/trace-events.txt are copied verbatim from
``hw/vfio/trace-events`` of each era; a tiny printf renders them with generated arguments,
the way QEMU's "log" trace backend prints them.
"""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vfio_migcheck.traces.events import Origin, QemuEvent, ReadSummary, Unreadable
from vfio_migcheck.traces.qemu import reader as qemu
from vfio_migcheck.traces.qemu.formats import may_hold_v1_evidence

TRACE_EVENTS = Path(__file__).parent / "fixtures" / "qemu" / "trace-events.txt"

_DECL = re.compile(r'^(?P<name>\w+)\((?P<args>[^)]*)\) (?P<fmt>".*)$')
_PIECE = re.compile(r'"([^"]*)"|(PRI[xu]\d+)')
STATES = ["ERROR", "STOP", "RUNNING", "STOP_COPY", "RESUMING", "RUNNING_P2P", "PRE_COPY",
          "PRE_COPY_P2P"]
RUN_STATES = ["running", "paused", "finish-migrate", "save-vm", "restore-vm", "postmigrate",
              "inmigrate", "shutdown", "io-error"]
MIGRATION_STATUSES = ["setup", "active", "device", "completed", "cancelling", "cancelled",
                      "failed", "pre-switchover"]


def _declarations() -> list[tuple[str, list[tuple[str, str]], str]]:
    """(event, [(C type, arg name)], printf format with the PRI macros pasted in)."""
    out = []
    for line in TRACE_EVENTS.read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        match = _DECL.match(line)
        assert match, line
        args = [a.strip().rsplit(" ", 1) for a in match["args"].split(",")]
        args = [(ctype.replace("*", "").strip(), name.lstrip("*")) for ctype, name in args]
        # C string pasting: "a %"PRIx64" b" -> a %PRIx64 b
        pieces = _PIECE.findall(match["fmt"])
        fmt = "".join(literal or macro for literal, macro in pieces)
        out.append((match["name"], args, fmt))
    return out


DECLARATIONS = _declarations()


def _argument(ctype: str, name: str) -> st.SearchStrategy:
    if name == "name" and ctype == "const char":
        pci = st.builds("{:04x}:{:02x}:{:02x}.{:x}".format, st.integers(0, 0xffff),
                        st.integers(0, 0xff), st.integers(0, 0x1f), st.integers(0, 7))
        user = st.text(string.ascii_letters + string.digits + "/._-", min_size=1,
                       max_size=20).map(lambda p: f"VFIO user /{p}")
        return st.one_of(pci, user)
    if name in ("new_state", "recover_state", "dev_state", "state") and ctype == "const char":
        return st.sampled_from(STATES)
    if name in ("reason", "reason_str") and ctype == "const char":
        return st.sampled_from(RUN_STATES)
    if name == "idstr":
        return st.text(string.ascii_lowercase + string.digits + ":./", min_size=1, max_size=24)
    if ctype == "bool":
        return st.integers(0, 1)
    if ctype.startswith("uint64"):
        return st.integers(0, 2**64 - 1)
    if ctype.startswith("uint32"):
        return st.integers(0, 2**32 - 1)
    return st.integers(-(2**31), 2**31 - 1)


def _printf(fmt: str, values: list) -> str:
    """Render a trace-events format the way glibc printf would for these conversions."""
    it = iter(values)

    def one(match: re.Match[str]) -> str:
        spec, value = match.group(0), next(it)
        if "PRIx" in spec:
            return format(value, "x")
        return str(value)

    return re.sub(r"%(?:PRI[xu](?:64|32)|[sd])", one, fmt)


PREFIXES = st.sampled_from([
    "", "4021@1767225600.123456:", "2026-01-01T00:00:00.123456Z ",
    "2026-01-01T00:00:00.123456Z [vm] qemu-system-x86_64(4021:main): ",
    "qemu-system-x86_64(4021:live_migration): ",
])


@st.composite
def records(draw: st.DrawFn) -> tuple[str, list, str, list]:
    event, args, fmt = draw(st.sampled_from(DECLARATIONS))
    if event == "vfio_migration_state_notifier" and args[1][0] == "const char":
        values = [draw(_argument(*args[0])), draw(st.sampled_from(MIGRATION_STATUSES))]
    elif event == "migrate_set_state":
        values = [draw(st.sampled_from(MIGRATION_STATUSES))]
    else:
        values = [draw(_argument(ctype, name)) for ctype, name in args]
    body = _printf(fmt, values)
    if body.startswith(" ") and draw(st.booleans()):
        body = body[1:]                       # tolerate one space after the name
    return event, values, draw(PREFIXES) + event + " " + body, args


META = {"event", "prefix", "protocol", "form", "thread", "program", "guest"}


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records())
def test_generated_records_round_trip(record: tuple[str, list, str, list]) -> None:
    event_name, values, line, args = record
    [event] = qemu.parse_qemu_text(line, Origin("gen", 1))
    assert isinstance(event, QemuEvent), (line, event)
    assert event.fields["event"] == event_name
    has_device = args[0][1] == "name"
    if has_device:
        assert event.device == values[0]
        values = values[1:]
    parsed = [v for k, v in event.fields.items() if k not in META]
    if event_name in ("vfio_state_pending_estimate", "vfio_state_pending_exact"):
        assert parsed[-1] == int(event_name.endswith("exact"))
        parsed = parsed[:-1]
    assert parsed == values, line
    if event.fields.get("protocol") == "v1":
        assert may_hold_v1_evidence(line)         # the era scan's shortcut never skips v1
    states = [v for v in values if v in STATES]
    if event.name in ("migration_set_state", "migration_set_device_state",
                      "vmstate_change", "vmstate_change_prepare"):
        assert [s for s in (event.state, event.recover) if s] == states
        if any(isinstance(v, int) for v in values) and not states:
            assert event.state is None and "v1_state" in event.fields


_ALPHABET = st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r")


@st.composite
def damaged(draw: st.DrawFn) -> str:
    """A generated record cut, spliced or sprinkled with noise."""
    _, _, line, _ = draw(records())
    cut = draw(st.integers(0, len(line)))
    noise = draw(st.text(_ALPHABET, max_size=12))
    how = draw(st.sampled_from(["cut", "insert", "glue", "prepend"]))
    if how == "cut":
        return line[:cut]
    if how == "insert":
        return line[:cut] + noise + line[cut:]
    if how == "glue":
        return line[:cut] + draw(records())[2]
    return noise + line


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(_ALPHABET, max_size=200), damaged()))
def test_parse_never_raises_on_arbitrary_lines(line: str) -> None:
    events = qemu.parse_qemu_text(line, Origin("fuzz", 3), pid=1)
    if not qemu.may_hold_qemu_text(line):
        assert events == []
    for event in events:
        assert isinstance(event, (QemuEvent, Unreadable))
        assert event.origin == Origin("fuzz", 3)
        if isinstance(event, QemuEvent) and event.state is not None:
            assert event.state in STATES


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.binary(max_size=120), max_size=12))
def test_reader_accounts_for_every_line_of_any_file(tmp_path: Path, chunks: list[bytes]) -> None:
    log = tmp_path / "fuzz.log"
    log.write_bytes(b"\n".join(chunks))
    summary = ReadSummary()
    events = list(qemu.read([log], summary))
    touched = {e.origin.line for e in events}
    unreadable = {n for n, _ in summary.unreadable}
    assert unreadable <= touched
    assert summary.irrelevant + len(touched) == summary.lines
    assert summary.events == sum(isinstance(e, QemuEvent) for e in events)


FIXTURES = Path(__file__).parent / "fixtures" / "qemu"


@pytest.mark.parametrize("name", ["mfd-source.log", "dev-source-precopy.log",
                                  "dev-destination.log", "v1-source.log", "errors.log"])
def test_every_cut_of_every_fixture_line_is_read_or_reported(name: str) -> None:
    """Copied logs are cut anywhere: no cut position may raise or invent a state name."""
    for line in (FIXTURES / name).read_text().splitlines():
        for cut in range(len(line) + 1):
            for event in qemu.parse_qemu_text(line[:cut], Origin(name, 1)):
                assert isinstance(event, (QemuEvent, Unreadable))
                if isinstance(event, QemuEvent) and event.state is not None:
                    assert event.state in STATES
