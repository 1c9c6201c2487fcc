"""The streaming audit with ``-j`` (``--jsonl`` without Dask): batches in worker processes,
a bounded window in flight, outcomes as they come, a crash blamed on its capture alone."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.test_audit_builders import fake_check
from vfio_migcheck.audit.collect import collect_captures, iter_captures
from vfio_migcheck.audit.jsonout import audit_document
from vfio_migcheck.audit.runner import CheckOptions, run_checks
from vfio_migcheck.audit.streaming import audit_outcomes_local, reduce_outcomes
from vfio_migcheck.audit.summary import build_audit, finish
from vfio_migcheck.cli import cli
from vfio_migcheck.model.spec import load_spec

ROOT = Path(__file__).resolve().parents[1]
SPEC = load_spec("linux-6.12")


def _captures(tmp_path: Path, commands: list[str]) -> Path:
    for i, command in enumerate(commands):
        (tmp_path / f"{i:02d}.vmc").write_text(command + "\n", encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(("jobs", "batch"), [(1, 3), (2, 2)])
def test_streamed_outcomes_give_the_in_memory_audit(tmp_path, jobs, batch):
    commands = ["pass", "fail", "crash", "pass", "raise", "unreadable", "pass", "crash",
                "fail", "pass", "pass"]
    root = _captures(tmp_path, commands)
    captures = collect_captures([str(root)], sniff=lambda p: False)
    lines = io.StringIO()
    outcomes = audit_outcomes_local(iter_captures([str(root)], sniff=lambda p: False),
                                    CheckOptions(), SPEC, jobs, fake_check, batch=batch)
    merged = reduce_outcomes(outcomes, lines)
    expected = audit_document(build_audit(run_checks(captures, CheckOptions(), 1,
                                                     check=fake_check), SPEC))
    streamed = audit_document(finish(merged, SPEC, None))
    detail = [json.loads(x) for x in lines.getvalue().splitlines()]
    assert sorted(detail, key=lambda c: c["path"]) == expected.pop("captures")
    streamed.pop("captures")
    assert streamed == expected
    died = sorted(Path(c["path"]).name for c in detail if "died" in (c.get("error") or ""))
    assert died == ["02.vmc", "07.vmc"]          # each crash blamed on its capture alone
    assert expected["totals"]["verdicts"]["unreadable"] == 4


def test_one_worker_streams_in_capture_order(tmp_path):
    root = _captures(tmp_path, ["pass", "fail"] * 6)
    got = [p for o in audit_outcomes_local(iter_captures([str(root)], sniff=lambda p: False),
                                           CheckOptions(), SPEC, 1, fake_check, batch=2)
           for p in o.paths]
    assert got == sorted(got) and len(got) == 12


def test_jsonl_with_jobs_keeps_the_summary_of_j1(tmp_path):
    examples = str(ROOT / "vfio_migcheck" / "examples")
    full, summary, lines = tmp_path / "full.json", tmp_path / "s.json", tmp_path / "c.jsonl"
    runner = CliRunner()
    one = runner.invoke(cli, ["audit", examples, "-j", "1", "-q", "--json", str(full)])
    two = runner.invoke(cli, ["audit", examples, "-j", "2", "-q", "--json", str(summary),
                              "--jsonl", str(lines)])
    assert one.exit_code == two.exit_code and one.exit_code in (0, 1)
    whole, streamed = json.loads(full.read_text()), json.loads(summary.read_text())
    detail = [json.loads(line) for line in lines.read_text().splitlines()]
    assert sorted(detail, key=lambda c: c["path"]) == whole.pop("captures")
    assert streamed.pop("captures") == []
    assert streamed == whole
