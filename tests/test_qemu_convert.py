"""QEMU logs end to end: format detection, `vfio-migcheck convert`, canonical round trip."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from vfio_migcheck.cli import cli
from vfio_migcheck.traces.reading import detect_format, open_trace

FIXTURES = Path(__file__).parent / "fixtures" / "qemu"
LOGS = sorted(FIXTURES.glob("*.log"))


def _comparable(events: list) -> list[dict]:
    out = []
    for event in events:
        data = event.to_json()
        data.pop("file")
        data.pop("line")
        out.append(data)
    return out


@pytest.mark.parametrize("log", LOGS, ids=lambda p: p.name)
def test_logs_are_detected_as_qemu(log: Path) -> None:
    assert detect_format(log) == "qemu"


@pytest.mark.parametrize("log", LOGS, ids=lambda p: p.name)
def test_canonical_round_trip_keeps_every_event(log: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["convert", str(log)])
    direct = open_trace(log)
    events = [e for e in direct.events if e.kind == "qemu"]
    assert events
    assert result.exit_code == (1 if direct.summary.unreadable else 0), result.output
    canonical = tmp_path / "converted.vmc"
    canonical.write_text(result.stdout)
    again = [e for e in open_trace(canonical, "canonical").events if e.kind == "qemu"]
    assert _comparable(again) == _comparable(events)


def test_convert_to_json_reports_v1_and_unreadable_lines() -> None:
    runner = CliRunner()
    v1 = runner.invoke(cli, ["convert", str(FIXTURES / "v1-source.log"), "--to", "json"])
    summary = json.loads(v1.stdout.splitlines()[-1])["summary"]
    assert v1.exit_code == 0 and summary["format"] == "qemu-v1"
    bad = runner.invoke(cli, ["convert", str(FIXTURES / "glued-truncated.log"), "--to", "json"])
    assert bad.exit_code == 1
    summary = json.loads(bad.stdout.splitlines()[-1])["summary"]
    assert [u["line"] for u in summary["unreadable"]] == [2, 4, 5, 6, 9]
