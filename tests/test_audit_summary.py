"""The audit value and its JSON view: totals, verdicts, schema, determinism."""

from __future__ import annotations

import json
import random
from pathlib import Path

import jsonschema
import pytest

from tests.test_audit_builders import (
    device,
    finding,
    obs,
    req,
    result,
    resuming,
    saving,
)
from vfio_migcheck.audit.collect import Capture
from vfio_migcheck.audit.jsonout import audit_document, dumps
from vfio_migcheck.audit.runner import CheckedCapture
from vfio_migcheck.audit.summary import build_audit, capture_verdict
from vfio_migcheck.audit.text import summary_lines
from vfio_migcheck.model.spec import load_spec

SPEC = load_spec("linux-6.12")
SCHEMA = json.loads((Path(__file__).parents[1] / "docs" / "audit-schema.json").read_text())


def _checked(r, lines=None):
    return CheckedCapture(Capture(r.file, (r.file,)), r, lines or {})


def sample():
    src = result("hostA/save.strace", devices=[device(
        "mdevA", states=[obs(10, 0.0, "RUNNING"), obs(20, 1.0, "PRE_COPY"),
                         obs(30, 3.0, "STOP_COPY"), obs(40, 3.5, "STOP"),
                         obs(50, 3.75, "RUNNING")],
        requests=[req(20, "RUNNING", "PRE_COPY"), req(30, "PRE_COPY", "STOP_COPY"),
                  req(40, "STOP_COPY", "STOP"), req(50, "STOP", "RUNNING")],
        sessions=[saving(pre=60, stop=36, reads=(32, 28, 0, 36, 0), opened_ts=1.0,
                         stop_copy_ts=3.0, eof_ts=3.25, eof_line=35)],
        first_ts=0.0, last_ts=4.0)],
        findings=[finding("D010", "warning", "driver", "hostA/save.strace", 25, "mdevA")])
    dst = result("hostB/restore.strace", devices=[device(
        "mdevB", verdict="fail",
        requests=[req(5, "RUNNING", "STOP"), req(6, "STOP", "RESUMING"),
                  req(9, "RESUMING", "STOP")],
        sessions=[resuming(written=80, writes=2, opened_line=6)])],
        findings=[finding("V003", "error", "vmm", "hostB/restore.strace", 7, "mdevB"),
                  finding("V003", "note", "vmm", "hostB/restore.strace", 8, "mdevB")],
        timestamps="none")
    bad = result("hostC/broken.strace", error="hostC/broken.strace:3: invalid UTF-8")
    inc = result("hostC/odd.strace", devices=[device("x", flags="?", verdict="inconclusive")])
    return [_checked(src, {("hostA/save.strace", 25): "read(7, ...) = 0"}), _checked(dst),
            _checked(bad), _checked(inc)]


def test_totals_and_verdicts():
    audit = build_audit(sample(), SPEC, pairs=[("hostA/save.strace", "hostB/restore.strace")])
    t = audit.totals
    assert t.captures == 4
    assert t.verdicts == {"pass": 1, "fail": 1, "inconclusive": 1, "unchecked": 0,
                          "unreadable": 1}
    assert t.device_verdicts == {"pass": 1, "fail": 1, "inconclusive": 1, "unchecked": 0}
    # three checker findings plus the A001 stream-length mismatch (96 read, 80 written)
    assert t.findings == 4
    assert t.by_severity == {"error": 2, "warning": 1, "note": 1}
    assert t.by_rule["V003"].total == 2 and t.by_rule["A001"].by_severity["error"] == 1
    assert {k: v.total for k, v in t.by_party.items()} == {"driver": 1, "unknown": 1, "vmm": 2}
    assert t.by_device["mdevB"].total == 3
    assert t.time_in_state == pytest.approx(
        {"RUNNING": 1.25, "PRE_COPY": 2.0, "STOP_COPY": 0.5, "STOP": 0.25})
    assert (t.stop_copy.count, t.stop_copy.max) == (1, pytest.approx(0.25))
    assert (t.stop_windows.count, t.stop_windows.max) == (1, pytest.approx(0.75))
    assert float(t.stop_windows.total) == pytest.approx(0.75)
    assert (t.volume.bytes_precopy, t.volume.bytes_stopcopy, t.volume.bytes_written) == (
        60, 36, 80)
    assert audit.failed
    (pair,) = audit.pairing.pairs
    assert not pair.matches and pair.how == "explicit"
    assert audit.coverage.unknown_flags == (("hostC/odd.strace", "x"),)


def test_capture_verdict_rules():
    assert capture_verdict(result("a", error="x")) == "unreadable"
    assert capture_verdict(result("a")) == "unchecked"             # no device: nothing checked
    assert capture_verdict(result("a", devices=[device()])) == "pass"
    # an error finding fails the capture even if the device verdict says pass
    assert capture_verdict(result("a", devices=[device()], findings=[finding()])) == "fail"
    assert capture_verdict(result("a", devices=[device(), device(verdict="inconclusive")])) \
        == "inconclusive"


def test_json_is_valid_against_the_schema_and_carries_the_numbers():
    doc = audit_document(build_audit(sample(), SPEC))
    jsonschema.validate(doc, SCHEMA)
    by_path = {c["path"]: c for c in doc["captures"]}
    save = by_path["hostA/save.strace"]
    assert save["findings"][0]["text"] == "read(7, ...) = 0"
    assert save["timing"][0]["stop_windows"][0]["duration"] == 0.75
    assert save["sessions"][0]["read_max"] == 36
    assert by_path["hostC/broken.strace"]["verdict"] == "unreadable"
    cov = doc["coverage"]["flag_sets"][0]
    assert cov["flags"] == "0x7" and cov["arcs_total"] == len(cov["arcs"])
    assert cov["requests_covered"] == 7          # 4 distinct on the source, 3 on the target
    assert ["RUNNING", "STOP"] not in cov["never"]["requests"]
    assert ["RUNNING", "RESUMING"] in cov["never"]["requests"]
    assert doc["totals"]["volume"]["read_size_histogram"]["0"] == 2


def test_json_is_byte_identical_whatever_the_completion_order():
    checked = sample()
    first = dumps(build_audit(checked, SPEC))
    for seed in range(3):
        shuffled = checked[:]
        random.Random(seed).shuffle(shuffled)
        assert dumps(build_audit(shuffled, SPEC)) == first


def test_text_summary_mentions_every_capture_and_the_totals():
    audit = build_audit(sample(), SPEC)
    lines = summary_lines(audit)
    assert sum(1 for line in lines if "hostC/broken.strace" in line) == 1
    assert any(line.startswith("4 captures: 1 pass, 1 fail, 1 inconclusive, 0 unchecked "
                               "(nothing to check), 1 unreadable") for line in lines)
    assert any(line.startswith("coverage 0x7") for line in lines)
    quiet = summary_lines(audit, per_capture=False)
    assert not any("hostA/save.strace" in line for line in quiet)
