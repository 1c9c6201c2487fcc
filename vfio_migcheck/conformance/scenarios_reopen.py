"""Scenarios for what the uAPI leaves to drivers: close/reopen and RESET in every state.

mtty keeps its migration state across close and reopen and only ends the sessions
(samples/vfio-mdev/mtty.c:1935-1942, no open_device), so a reopened device can sit in a
saving-group state with no live session; RESET always succeeds there. The predictions use the
driver profile of the scenario's driver (:mod:`vfio_migcheck.model.profiles`).
"""

from __future__ import annotations

from vfio_migcheck.conformance.builder import Scenario, ScenarioBuilder
from vfio_migcheck.model.fsm import model_for
from vfio_migcheck.model.spec import Spec

SAVING = ("PRE_COPY", "PRE_COPY_P2P", "STOP_COPY")


def _usable(spec: Spec, flags: int) -> list[str]:
    return sorted(model_for(spec, flags).usable, key=lambda s: spec.states[s].value)


def _touch(b: ScenarioBuilder, fd: int, kind: str) -> None:
    """One I/O call on a data fd: a read on a saving fd, a write on a resuming fd."""
    if kind == "saving":
        b.call(f"fd {fd} read 16")
    else:
        b.call(f"fd {fd} write 8 # run: src=zero")


def _enter(b: ScenarioBuilder, state: str) -> tuple[int, str] | None:
    """RESET, SET ``state``; the data fd that SET opened (and its kind), if any."""
    before = set(b.open_fds("dev"))
    b.call("dev RESET")
    b.call(f"dev SET STATE {state}")
    new = [fd for fd in b.open_fds("dev") if fd not in before]
    if not new:
        return None
    kind = "saving" if new[-1] in b.saving else "resuming"
    return new[-1], kind


def reopen_in(spec: Spec, flags: int, api: str, state: str) -> Scenario:
    """Close and reopen the device in ``state``, then every SET from there."""
    b = ScenarioBuilder(spec, flags, api, f"reopen-{state}", "reopen",
                        f"close and reopen the device in {state}, then every SET")
    b.device("dev")
    b.realize("dev")
    for target in _usable(spec, flags):
        if state == "RESUMING" and target != "RESUMING":
            # After a reopen in RESUMING mtty has no resuming file, and RESUMING -> STOP
            # dereferences it (samples/vfio-mdev/mtty.c:948-953, 1154-1162): a kernel oops.
            continue
        b.comment(f"reopen in {state}, then SET {target}")
        opened = _enter(b, state)
        if opened is not None and opened[1] == "saving":
            b.call(f"fd {opened[0]} read 16")
        b.close_device("dev")
        b.device("dev")
        b.call("dev GET STATE")
        if opened is not None:
            _touch(b, *opened)
        before = set(b.open_fds("dev"))
        b.call(f"dev SET STATE {target}")
        b.call("dev GET STATE")
        new = [fd for fd in b.open_fds("dev") if fd not in before]
        if new and target == "STOP_COPY" and new[-1] in b.saving:
            b.drain(new[-1])
        b.close_all("dev")
    b.comment(f"RESET after a reopen in {state}")
    opened = _enter(b, state)
    b.close_device("dev")
    b.device("dev")
    b.call("dev RESET")
    b.call("dev GET STATE")
    if opened is not None:
        _touch(b, *opened)
    b.close_all("dev")
    return b.scenario


def reset_every_state(spec: Spec, flags: int, api: str) -> Scenario:
    """RESET in every usable state, live session or not; old fds are dead afterwards."""
    b = ScenarioBuilder(spec, flags, api, "reset-every-state", "reopen",
                        "RESET in every state; the data fd of the ended session is dead")
    b.device("dev")
    b.realize("dev")
    for state in _usable(spec, flags):
        b.comment(f"RESET in {state}")
        opened = _enter(b, state)
        b.call("dev GET STATE")
        b.call("dev RESET")
        b.call("dev GET STATE")
        if opened is not None:
            _touch(b, *opened)
        b.close_all("dev")
    return b.scenario


def reopen_scenarios(spec: Spec, flags: int, api: str) -> list[Scenario]:
    out = [reopen_in(spec, flags, api, state) for state in _usable(spec, flags)]
    out.append(reset_every_state(spec, flags, api))
    return out


