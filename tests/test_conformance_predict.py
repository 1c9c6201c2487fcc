"""Predictions of lab calls from the model, the scenario builder and the statement parser."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vfio_migcheck.conformance.builder import ScenarioBuilder
from vfio_migcheck.conformance.predict import ANY_ERRNO, Outcome, Prediction
from vfio_migcheck.conformance.scenarios import (
    APIS,
    all_scenarios,
    random_walk,
    usable_states,
)
from vfio_migcheck.conformance.statements import (
    Declaration,
    Statement,
    StatementError,
    parse_line,
)
from vfio_migcheck.model.fsm import model_for
from vfio_migcheck.model.spec import load_spec
from vfio_migcheck.traces.reading import open_trace

SPEC = load_spec("linux-6.12")
FLAGS = 0x7


def builder(api: str = "group") -> ScenarioBuilder:
    b = ScenarioBuilder(SPEC, FLAGS, api, "t", "test", "unit test")
    b.device("dev")
    return b


def kinds(p: Prediction) -> set[tuple[str, str | None, bool | None]]:
    return {(o.ret, o.errno, o.data_fd) for o in p.outcomes}


# --- statements -----------------------------------------------------------------------------
def test_parse_result_statement_with_reply_and_comment() -> None:
    st = parse_line("fd 6 read 16 = 16  # data=00ff", 3, "x.canon")
    assert isinstance(st, Statement)
    assert (st.subject, st.fd, st.verb, st.args, st.ret) == ("fd", 6, "read", ("16",), 16)
    assert st.comment == "data=00ff" and st.directives == {}


def test_parse_directives_and_failure() -> None:
    st = parse_line("fd 7 write ? = -1 EBADF  # run: src=saved len=rest", 1)
    assert isinstance(st, Statement)
    assert st.directives == {"src": "saved", "len": "rest"}
    assert (st.ret, st.errno) == (-1, "EBADF")


def test_parse_declaration_and_comment_lines() -> None:
    assert parse_line("# vmc-trace 1", 1) is None
    decl = parse_line("device dev driver=mtty api=cdev fd=4  # mdev x", 2)
    assert isinstance(decl, Declaration) and decl.keys["api"] == "cdev"


@pytest.mark.parametrize("text,message", [
    ("dev GET STATE", "without ' = result'"),
    ("dev GET STATE = -1", "without an errno"),
    ("dev GET STATE = maybe", "neither '?' nor a number"),
    ("fd x read 1 = 0", "expected 'fd N VERB"),
    ("dev SET STATE STOP = 0 junk", "expected key=value"),
])
def test_parse_errors_name_file_and_line(text: str, message: str) -> None:
    with pytest.raises(StatementError) as err:
        parse_line(text, 9, "s.vmc")
    assert str(err.value).startswith("s.vmc:9:") and message in str(err.value)


# --- device predictions --------------------------------------------------------------------
def test_set_creating_a_session_predicts_a_data_fd_numbered_lowest_free() -> None:
    b = builder()
    p = b.call("dev SET STATE STOP_COPY")
    assert kinds(p) == {("0", None, True)}
    assert b.scenario.lines[-1].endswith("= ? data_fd=6")   # 3 container, 4 group, 5 device
    c = builder("cdev")
    c.call("dev SET STATE PRE_COPY")
    assert c.scenario.lines[-1].endswith("= ? data_fd=5")   # 3 iommufd, 4 device


def test_blocked_and_invalid_requests_fail_without_changing_state() -> None:
    b = builder()
    b.call("dev SET STATE STOP_COPY")
    for target in ("PRE_COPY", "PRE_COPY_P2P", "ERROR", "8"):
        assert kinds(b.call(f"dev SET STATE {target}")) == {("-1", "EINVAL", False)}
    get = b.call("dev GET STATE")
    assert get.outcomes[0].states == ("STOP_COPY",)


def test_leaving_resuming_without_complete_data_must_fail() -> None:
    b = builder()
    b.call("dev SET STATE RESUMING")
    p = b.call("dev SET STATE RUNNING")
    assert kinds(p) == {("-1", ANY_ERRNO, False)}
    get = b.call("dev GET STATE")
    assert set(get.outcomes[0].states or ()) == {"RESUMING", "ERROR"}


def test_leaving_resuming_after_a_complete_stream_succeeds() -> None:
    b = builder()
    b.quick_save("dev")
    b.call("dev SET STATE RESUMING")
    fd = b.data_fd("dev", "resuming")
    b.call(f"fd {fd} write ? # run: src=saved len=rest")
    assert kinds(b.call("dev SET STATE STOP")) == {("0", None, False)}
    assert kinds(b.call(f"fd {fd} write 8 # run: src=zero")) == {("-1", ANY_ERRNO, None)}


def test_reset_ends_sessions() -> None:
    b = builder()
    b.call("dev SET STATE PRE_COPY")
    b.call("dev RESET")
    assert b.call("dev GET STATE").outcomes[0].states == ("RUNNING",)
    assert b.call("fd 6 read 16").fd_kind == "dead"


# --- data-fd predictions --------------------------------------------------------------------
def test_read_predictions_follow_the_state() -> None:
    b = builder()
    b.call("dev SET STATE PRE_COPY")
    assert kinds(b.call("fd 6 read 16")) == {(">=1", None, None), ("-1", "ENOMSG", None)}
    b.call("dev SET STATE STOP_COPY")
    assert kinds(b.call("fd 6 read 16")) == {(">=0", None, None)}
    assert kinds(b.call("fd 6 precopy_info")) == {("-1", "EINVAL", None)}
    assert kinds(b.call("fd 6 write 1 # run: src=zero")) == {("-1", "EBADF", None)}
    assert kinds(b.call("fd 6 lseek")) == {("-1", "ESPIPE", None)}
    b.call("fd 6 close")
    assert kinds(b.call("fd 6 read 16")) == {("-1", "EBADF", None)}


def test_precopy_info_argsz_and_direction() -> None:
    b = builder()
    b.call("dev SET STATE PRE_COPY")
    assert kinds(b.call("fd 6 precopy_info argsz=8")) == {("-1", "EINVAL", None)}
    assert kinds(b.call("fd 6 precopy_info")) == {("0", None, None)}
    b.call("fd 6 close")
    b.call("dev RESET")
    b.call("dev SET STATE RESUMING")
    assert kinds(b.call("fd 6 precopy_info")) == {("-1", "ENOTTY", None)}
    assert kinds(b.call("fd 6 read 1")) == {("-1", "EBADF", None)}


def test_src_saved_needs_a_kept_stream() -> None:
    b = builder()
    b.call("dev SET STATE RESUMING")
    with pytest.raises(ValueError, match="before any stream was kept"):
        b.call("fd 6 write 8 # run: src=saved")


# --- outcome matching ------------------------------------------------------------------------
@given(ret=st.integers(-1, 200), n=st.integers(0, 100))
def test_range_outcome_matches_exactly_its_range(ret: int, n: int) -> None:
    o = Outcome(f"0..{n}")
    assert o.matches(ret, None if ret >= 0 else "EINVAL", {}) == (0 <= ret <= n)


@given(errno=st.sampled_from(["EINVAL", "ENODEV", "EBADF"]))
def test_any_errno_matches_every_failure_but_no_success(errno: str) -> None:
    o = Outcome("-1", ANY_ERRNO)
    assert o.matches(-1, errno, {}) and not o.matches(0, None, {})


def test_outcome_json_round_trip() -> None:
    o = Outcome("0", None, True, ("STOP",), "why")
    assert Outcome.from_json(json.loads(json.dumps(o.to_json()))) == o


# --- generated scenarios --------------------------------------------------------------------
def test_generation_covers_every_ordered_pair_and_the_families() -> None:
    states = usable_states(SPEC, FLAGS)
    scenarios = list(all_scenarios(SPEC, FLAGS, "group"))
    groups = {s.group for s in scenarios}
    assert groups == {"pairs", "flows", "errors", "walks", "reopen"}
    assert sum(1 for s in scenarios if s.group == "walks") >= 20
    pairs = set()
    for s in scenarios:
        if s.group != "pairs" or s.name.endswith("-complete"):
            continue
        src = s.name.removeprefix("pairs-")
        pairs |= {(src, line.split()[3]) for line in s.lines
                  if line.startswith("dev SET STATE") and line.split()[3] != src}
    assert pairs == {(a, b) for a in states for b in states if a != b}


def test_every_set_prediction_matches_the_model_from_a_single_state() -> None:
    model = model_for(SPEC, FLAGS)
    for src in usable_states(SPEC, FLAGS):
        for dst in [*usable_states(SPEC, FLAGS), "ERROR"]:
            b = builder()
            if src != "RUNNING":
                b.call(f"dev SET STATE {src}")
            if src == "RESUMING":
                continue       # leaving RESUMING depends on the data: tested above
            p = b.call(f"dev SET STATE {dst}")
            answer = model.request(src, dst)
            assert [o.ret for o in p.outcomes] == ["0" if answer.ok else "-1"]
            if answer.ok:
                assert p.outcomes[0].data_fd == (answer.creates is not None)


@settings(max_examples=25, deadline=None)
@given(index=st.integers(0, 10_000), api=st.sampled_from(APIS))
def test_any_seeded_walk_is_predictable_and_canonical(index: int, api: str) -> None:
    scenario = random_walk(SPEC, FLAGS, api, index)
    assert scenario.calls
    for call in scenario.calls:
        assert call["prediction"]["outcomes"], call
    with tempfile.TemporaryDirectory() as tmp:      # the project's canonical reader reads it
        path = Path(tmp) / "walk.vmc"
        path.write_text(scenario.text, encoding="utf-8")
        reading = open_trace(path)
        events = list(reading.events)
    assert reading.format == "canonical"
    assert reading.summary.unreadable == []
    assert len(events) == len(scenario.calls) + 1        # the device declaration too


def test_fixed_reply_keys_are_part_of_the_prediction() -> None:
    b = builder()
    migration = b.call("dev GET MIGRATION")
    assert migration.matches(0, None, {"flags": "0x7"})
    assert not migration.matches(0, None, {"flags": "0x3"})
    get = b.call("dev GET STATE")
    assert get.matches(0, None, {"state": "RUNNING", "data_fd": "-1"})
    assert not get.matches(0, None, {"state": "RUNNING", "data_fd": "6"})
    assert not get.matches(0, None, {"state": "STOP", "data_fd": "-1"})
