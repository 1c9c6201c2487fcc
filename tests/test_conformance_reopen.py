"""Predictions for close/reopen and RESET in every state, per driver profile."""

from __future__ import annotations

import pytest

from vfio_migcheck.conformance.builder import ScenarioBuilder
from vfio_migcheck.conformance.scenarios_reopen import reopen_in, reset_every_state
from vfio_migcheck.model.profiles import find_profile
from vfio_migcheck.model.spec import load_spec

SPEC = load_spec("linux-6.12")
FLAGS = 0x7


def reopened_in(state: str, driver: str) -> ScenarioBuilder:
    b = ScenarioBuilder(SPEC, FLAGS, "group", "t", "test", "unit test", find_profile(driver))
    b.device("dev")
    b.call(f"dev SET STATE {state}")
    b.close_device("dev")
    b.device("dev")
    return b


def test_mtty_keeps_the_state_across_reopen_and_pci_drivers_reset_it() -> None:
    assert reopened_in("PRE_COPY_P2P", "mtty").call("dev GET STATE").states == ("PRE_COPY_P2P",)
    assert reopened_in("PRE_COPY_P2P", "mlx5").call("dev GET STATE").states == ("RUNNING",)
    generic = reopened_in("PRE_COPY_P2P", "generic").call("dev GET STATE")
    assert set(generic.states) == {"RUNNING", "PRE_COPY_P2P"}


def test_the_old_data_fd_is_dead_after_close_device() -> None:
    b = reopened_in("PRE_COPY", "mtty")
    prediction = b.call("fd 6 read 16")
    assert prediction.fd_kind == "dead"
    assert all(o.ret == "-1" for o in prediction.outcomes)


@pytest.mark.parametrize("driver, fd", [("mtty", True), ("generic", None), ("mlx5", False)])
def test_stop_copy_after_a_reopen_in_precopy_p2p(driver: str, fd: bool | None) -> None:
    b = reopened_in("PRE_COPY_P2P", driver)
    prediction = b.call("dev SET STATE STOP_COPY")
    with_fd = {o.data_fd for o in prediction.outcomes if o.ret == "0"}
    if driver == "mlx5":   # reopened in RUNNING: RUNNING -> ... -> STOP_COPY starts a session
        assert with_fd == {True}
    elif fd is None:       # generic: mtty's new session, or none
        assert with_fd == {True, False}
    else:
        assert with_fd == {fd}
        assert "mtty starts a new one" in " ".join(o.why for o in prediction.outcomes)


def test_a_closed_fd_keeps_its_session_alive_in_the_driver() -> None:
    """close() on the saving fd does not end the session: STOP_COPY then returns no fd."""
    b = ScenarioBuilder(SPEC, FLAGS, "group", "t", "test", "unit test", find_profile("mtty"))
    b.device("dev")
    b.call("dev SET STATE PRE_COPY_P2P")
    b.call("fd 6 close")
    prediction = b.call("dev SET STATE STOP_COPY")
    assert {o.data_fd for o in prediction.outcomes} == {False}


def test_reopen_scenarios_never_take_resuming_to_stop_after_a_reopen() -> None:
    text = reopen_in(SPEC, FLAGS, "group", "RESUMING").text
    after_reopen = text.split("device dev driver=mtty api=group flags=0x7\n")[2:]
    for chunk in after_reopen:
        head = chunk.split("# ")[0]
        assert "SET STATE STOP" not in head and "SET STATE RUNNING" not in head


def test_reset_every_state_visits_every_usable_state() -> None:
    scenario = reset_every_state(SPEC, FLAGS, "cdev")
    for state in ("STOP", "RUNNING", "STOP_COPY", "RESUMING", "RUNNING_P2P", "PRE_COPY",
                  "PRE_COPY_P2P"):
        assert f"# RESET in {state}\n" in scenario.text


def test_declaring_an_open_device_again_is_refused() -> None:
    b = ScenarioBuilder(SPEC, FLAGS, "group", "t", "test", "unit test")
    b.device("dev")
    with pytest.raises(ValueError, match="declared again while open"):
        b.device("dev")
