"""L1-L7: the data-fd lifecycle properties, proved for all lengths or refuted with a run.

Every property is shown to be able to fail: a spec edit or a behaviour profile refutes it,
and a refutation's canonical trace replays in ``check`` (under the spec) as the run it claims.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import z3

from vfio_migcheck.checker.api import check_trace
from vfio_migcheck.checker.rules import CATALOGUE
from vfio_migcheck.model.smt import lifecycle_properties as lp
from vfio_migcheck.model.smt.itf import to_itf
from vfio_migcheck.model.smt.lifecycle import Behaviour, LSet, Semantics
from vfio_migcheck.model.spec import builtin_spec_path, load_spec

ROOT = Path(__file__).resolve().parent.parent
WHAT_IF = ROOT / "docs" / "examples" / "what-if-stopcopy-to-precopy.toml"
LIDS = [f"L{i}" for i in range(1, 8)]


def edited(tmp_path: Path, old: str, new: str, name: str = "edited.toml"):
    text = builtin_spec_path("linux-6.12").read_text()
    assert old in text
    path = tmp_path / name
    path.write_text(text.replace(old, new, 1))
    return load_spec(path)


def statuses(results) -> dict[str, str]:
    return {r.id: r.status for r in results}


@pytest.mark.parametrize("spec_name", ["linux-6.12", "linux-5.18"])
def test_every_lifecycle_property_is_proved_for_every_flag_set(spec_name):
    spec = load_spec(spec_name)
    results = lp.lifecycle_for(spec, list(spec.defined_flag_sets))
    assert [r.id for r in results] == [pid for pid in LIDS for _ in spec.defined_flag_sets]
    assert {r.status for r in results} == {"proved"}
    assert all("inductive invariant" in r.method for r in results)


def test_the_invariant_is_inductive_and_holds_initially():
    spec = load_spec("linux-6.12")
    run = lp.prepare(spec, 0x7)
    rel, sem = run.rel, run.rel.sem
    inv = lambda s: z3.And([lem(s) for lem in run.invariant])  # noqa: E731
    solver = z3.Solver()
    init = sem.fresh("t0")
    assert solver.check(sem.initial(init), z3.Not(inv(init))) == z3.unsat
    assert solver.check(rel.step, inv(rel.a), z3.Not(inv(rel.b))) == z3.unsat
    # and it says something: no session in RUNNING; in STOP_COPY only a saving one (none
    # after a device close, which keeps the state)
    running, stop_copy = sem.const["RUNNING"], sem.const["STOP_COPY"]
    assert solver.check(inv(rel.a), rel.a.st == running, rel.a.live) == z3.unsat
    assert solver.check(inv(rel.a), rel.a.st == stop_copy, rel.a.live,
                        z3.Not(rel.a.sav)) == z3.unsat


def _replays(spec, cex, tmp_path: Path) -> None:
    """``check`` reads the run, finds no misfit, and can end where the run ends."""
    trace = tmp_path / "cex.vmc"
    trace.write_text(cex.extra["vmc"])
    result = check_trace(trace, spec=spec)
    assert result.error is None
    assert not [f for f in result.findings if CATALOGUE[f.rule].kind == "misfit"]
    (device,) = result.devices
    assert cex.dst in device.final_states
    assert len(cex.extra["events"]) == len(cex.extra["states"]) - 1


def test_the_what_if_arc_out_of_stop_copy_refutes_l3_and_l7(tmp_path):
    spec = load_spec(WHAT_IF)
    results = lp.prove_lifecycle(spec, 0xd)
    got = statuses(results)
    assert got["L3"] == got["L7"] == "refuted"
    assert {v for k, v in got.items() if k not in ("L3", "L7")} == {"proved"}
    for r in results:
        for cex in r.counterexamples:
            _replays(spec, cex, tmp_path)
            doc = to_itf(spec, r.id, cex)
            assert doc["vars"][0] == "device_state" and len(doc["states"]) == len(
                cex.extra["events"]) + 1
    # flag sets without the new flag keep every property
    assert set(statuses(lp.prove_lifecycle(spec, 0x5)).values()) == {"proved"}


def test_a_creating_arc_out_of_a_saving_state_refutes_l1(tmp_path):
    spec = edited(tmp_path, 'to = "STOP_COPY"\nrequires = ["PRE_COPY"]\nforbids = ["P2P"]\n'
                  'session = "keeps"', 'to = "STOP_COPY"\nrequires = ["PRE_COPY"]\n'
                  'forbids = ["P2P"]\nsession = "creates_saving"')
    results = {r.id: r for r in lp.prove_lifecycle(spec, 0x5)}
    assert results["L1"].status == "refuted"
    (cex,) = results["L1"].counterexamples
    assert cex.extra["states"][-2]["session"] == "saving"   # live before the creating SET
    _replays(spec, cex, tmp_path)


def test_a_resuming_exit_that_does_not_end_the_session_refutes_l4(tmp_path):
    spec = edited(tmp_path, 'session = "ends_resuming"', 'session = "none"')
    results = {r.id: r for r in lp.prove_lifecycle(spec, 0x1)}
    assert results["L4"].status == "refuted"
    _replays(spec, results["L4"].counterexamples[0], tmp_path)


def test_a_reset_that_keeps_sessions_refutes_l5(tmp_path):
    spec = edited(tmp_path, "ends_sessions = true", "ends_sessions = false")
    got = statuses(lp.prove_lifecycle(spec, 0x1))
    assert got["L5"] == "refuted"


def test_the_words_without_k1_lose_the_precopy_session_l7(tmp_path):
    text = builtin_spec_path("linux-6.12").read_text()
    cut = text.index("[[path.refinements]]")
    path = tmp_path / "words.toml"
    path.write_text(text[:cut] + text[text.index("[failure]"):])
    spec = load_spec(path)
    got = statuses(lp.prove_lifecycle(spec, 0x7))
    assert got["L7"] == "refuted"
    assert statuses(lp.prove_lifecycle(spec, 0x5))["L7"] == "proved"


def test_a_driver_profile_plugs_in_as_a_behaviour():
    spec = load_spec("linux-6.12")
    leaky = Behaviour.from_spec(spec, dead_fd_returns_data=True)
    results = {r.id: r for r in lp.prove_lifecycle(spec, 0x1, behaviour=leaky)}
    assert results["L2"].status == "refuted"
    events = results["L2"].counterexamples[0].extra["events"]
    assert events[-1].endswith("read 16 = 16")
    strict = Behaviour.from_spec(spec, precopy_end_zero_read=False)
    assert set(statuses(lp.prove_lifecycle(spec, 0x5, behaviour=strict)).values()) == {
        "proved"}


def test_set_outcomes_come_from_the_smt_paths():
    sem = Semantics(load_spec("linux-6.12"), 0x7)
    ok, reason, states, effects = sem.path("PRE_COPY", "STOP_COPY")
    assert ok and states == ("PRE_COPY", "PRE_COPY_P2P", "STOP_COPY")
    assert effects == ("keeps", "keeps")
    assert LSet("STOP", True, 6).line("d") == "d SET STATE STOP = 0 data_fd=6"
