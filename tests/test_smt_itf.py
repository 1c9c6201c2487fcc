"""Counterexamples as ITF traces."""

from __future__ import annotations

import json

from vfio_migcheck.model.smt.itf import session_in, to_itf, write_itf
from vfio_migcheck.model.smt.results import Counterexample
from vfio_migcheck.model.spec import load_spec

SPEC = load_spec("linux-6.12")


def test_session_of_each_state_follows_from_the_arcs():
    assert {s: session_in(SPEC, s) for s in SPEC.states} == {
        "ERROR": "none", "STOP": "none", "RUNNING": "none", "STOP_COPY": "saving",
        "RESUMING": "resuming", "RUNNING_P2P": "none", "PRE_COPY": "saving",
        "PRE_COPY_P2P": "saving",
    }


def test_trace_has_one_state_per_step_with_session_effects():
    cex = Counterexample(0x7, "RESUMING", "STOP_COPY", ("STOP", "STOP_COPY"), "example")
    doc = to_itf(SPEC, "P4", cex)
    assert doc["vars"] == ["device_state", "session"]
    assert [(s["device_state"], s["session"]) for s in doc["states"]] == [
        ("RESUMING", "resuming"), ("STOP", "none"), ("STOP_COPY", "saving")]
    assert [s["#meta"]["index"] for s in doc["states"]] == [0, 1, 2]
    assert doc["states"][1]["#meta"]["effect"] == "ends_resuming"
    assert doc["#meta"]["format"] == "ITF" and doc["#meta"]["flags"] == "0x7"


def test_missing_arcs_are_marked_not_invented():
    cex = Counterexample(0x5, "STOP_COPY", "PRE_COPY", ("PRE_COPY",), "walk")
    doc = to_itf(SPEC, "P8", cex)
    assert doc["states"][1]["#meta"]["effect"] == "no such arc under the flags"
    assert doc["states"][1]["session"] == "saving"


def test_write_itf_writes_parseable_files(tmp_path):
    cexs = [("P3", Counterexample(0x7, "PRE_COPY", "STOP_COPY", ("PRE_COPY_P2P", "STOP_COPY"),
                                  "interior"))]
    (path,) = write_itf(tmp_path / "out", SPEC, cexs)
    assert path.name == "P3-0x7-PRE_COPY-STOP_COPY-1.itf.json"
    doc = json.loads(path.read_text())
    assert [s["device_state"] for s in doc["states"]] == ["PRE_COPY", "PRE_COPY_P2P", "STOP_COPY"]
    assert {s["session"] for s in doc["states"]} == {"saving"}
