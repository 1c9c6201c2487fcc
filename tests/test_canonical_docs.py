"""The format's documentation and bundled examples: every example reads, and every example
trace is a legal flow under the model (so `check` on them has nothing to report)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from vfio_migcheck.model.fsm import model_for
from vfio_migcheck.model.spec import load_spec
from vfio_migcheck.traces.canonical.reader import read_text
from vfio_migcheck.traces.events import (
    DataClose,
    DataIO,
    DeviceOpen,
    FeatureCall,
    ReadSummary,
    Unreadable,
)

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "canonical-format.md"
EXAMPLES = sorted((ROOT / "vfio_migcheck" / "examples").glob("*.vmc"))
BLOCKS = re.findall(r"```vmc\n(.*?)```", DOC.read_text(), re.S)


def test_the_page_has_examples_and_the_bundle_is_complete() -> None:
    assert len(BLOCKS) >= 8
    names = {p.name for p in EXAMPLES}
    assert {"source-precopy.vmc", "destination.vmc", "two-devices-p2p.vmc"} <= names


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_every_vmc_block_reads_without_unreadable_lines(index: int) -> None:
    summary = ReadSummary()
    events = list(read_text(BLOCKS[index], file=f"{DOC.name}#block{index + 1}",
                            summary=summary))
    assert summary.unreadable == []
    assert summary.events == len(events) > 0
    assert not any(isinstance(e, Unreadable) for e in events)


def test_every_statement_kind_is_documented_with_an_example() -> None:
    kinds = {type(e).__name__ for block in BLOCKS for e in read_text(block)}
    assert kinds >= {"DeviceOpen", "FeatureCall", "DeviceReset", "DeviceAccess", "DeviceClose",
                     "DataIO", "PrecopyInfo", "DataPoll", "DataSeek", "DataFcntl", "DataIoctl",
                     "FdDup", "DataClose", "QemuEvent", "ProcessEvent"}


def test_documented_error_messages_are_the_real_ones() -> None:
    text = DOC.read_text()
    section = text[text.index("## 7. Errors"):text.index("## 8.")]
    documented = re.findall(r"^t\.vmc:(\d+): (column .*)$", section, re.M)
    assert len(documented) == 5
    for _, reason in documented:
        if "…" in reason:
            continue
        line = {
            "unknown state": "src SET STATE foo = 0",
            "used before": "dst GET STATE = 0",
            "has no key": "src GET STATE = 0 flags=7",
            "expected '= RESULT'": "src SET STATE stop",
        }[next(k for k in ("unknown state", "used before", "has no key", "expected '= RESULT'")
               if k in reason)]
        events = list(read_text("device src fd=5\n" + line))
        assert isinstance(events[-1], Unreadable)
        assert events[-1].reason == reason


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_are_legal_flows(path: Path) -> None:
    """Replay each device's SET requests through the model: every request is allowed, a
    data fd appears exactly when the model opens a session, I/O matches the session's
    direction, saving sessions are read to end of stream, and every data fd is closed."""
    summary = ReadSummary()
    events = list(read_text(path.read_text(), file=path.name, summary=summary))
    assert summary.unreadable == [] and summary.notes == []
    spec = load_spec()
    state: dict[str, str] = {}
    model = {}
    session: dict[str, str] = {}        # file identity -> "saving" | "resuming"
    at_eof: dict[str, bool] = {}
    open_files: set[str] = set()
    for ev in events:
        if isinstance(ev, DeviceOpen):
            state[ev.device] = ev.state
            model[ev.device] = model_for(spec, ev.flags)
        elif isinstance(ev, FeatureCall) and ev.op == "SET" and ev.feature == "MIG_DEVICE_STATE":
            answer = model[ev.device].request(state[ev.device], ev.target)
            assert answer.ok, f"{ev.origin}: {answer.detail}"
            assert ev.ret == 0
            if answer.creates:
                assert ev.data_fd >= 0, ev.origin
                ident = f"{ev.device}:fd{ev.data_fd}"
                session[ident] = answer.creates
                open_files.add(ident)
            else:
                assert ev.data_fd == -1, ev.origin
            if state[ev.device] == "STOP_COPY" and answer.ends == "saving":
                stream = [f for f, kind in session.items()
                          if f.startswith(ev.device + ":") and kind == "saving"]
                assert all(at_eof.get(f) for f in stream), f"{ev.origin}: left before EOF"
            state[ev.device] = ev.target
        elif isinstance(ev, DataIO):
            ident = ev.file.rsplit("#", 1)[0]
            kind = session[ident]
            assert ev.direction == ("read" if kind == "saving" else "write"), ev.origin
            if ev.direction == "read":
                at_eof[ident] = ev.ret == 0
        elif isinstance(ev, DataClose):
            open_files.discard(ev.file.rsplit("#", 1)[0])
    assert open_files == set()
    assert "ERROR" not in state.values()
