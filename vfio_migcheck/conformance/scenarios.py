"""The lab's scenarios, generated from the model: state pairs, flows, error paths, walks.

Every family uses only what the model says about the device's flags (usable states, arcs,
sessions), so the same generator serves any flag set. ``python -m
vfio_migcheck.conformance.scenarios OUTDIR`` writes ``OUTDIR/<api>/<name>.vmc`` and the
prediction sidecar ``<name>.predict.json`` for both device-opening paths.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from vfio_migcheck.conformance.builder import DRAIN_READ, Scenario, ScenarioBuilder
from vfio_migcheck.conformance.scenarios_reopen import reopen_scenarios
from vfio_migcheck.model.fsm import model_for
from vfio_migcheck.model.spec import Spec, load_spec

APIS = ("group", "cdev")
WALKS = 24
WALK_STEPS = 18
WALK_SEED = 20261128


def usable_states(spec: Spec, flags: int) -> list[str]:
    model = model_for(spec, flags)
    return sorted(model.usable, key=lambda s: spec.states[s].value)


# --- every ordered state pair -------------------------------------------------------------
def pairs_from(spec: Spec, flags: int, api: str, src: str) -> Scenario:
    """For each target: RESET, SET src, GET, SET dst, GET, close every data fd."""
    b = ScenarioBuilder(spec, flags, api, f"pairs-{src}", "pairs",
                        f"every SET from {src} (RESUMING without data)")
    b.device("dev")
    b.realize("dev")
    for dst in usable_states(spec, flags):
        b.comment(f"pair {src} -> {dst}")
        b.call("dev RESET")
        b.call(f"dev SET STATE {src}")
        b.call("dev GET STATE")
        b.call(f"dev SET STATE {dst}")
        b.call("dev GET STATE")
        b.close_all()
    return b.scenario


def pairs_from_resumed(spec: Spec, flags: int, api: str) -> Scenario:
    """Every SET from RESUMING after a complete saved stream was written."""
    b = ScenarioBuilder(spec, flags, api, "pairs-RESUMING-complete", "pairs",
                        "every SET from RESUMING after writing a complete stream")
    b.device("dev")
    b.realize("dev")
    b.quick_save("dev")
    for dst in usable_states(spec, flags):
        b.comment(f"pair RESUMING(complete) -> {dst}")
        b.call("dev RESET")
        b.call("dev SET STATE RESUMING")
        fd = b.data_fd("dev", "resuming")
        b.call(f"fd {fd} write ? # run: src=saved len=rest")
        b.call("dev GET STATE")
        b.call(f"dev SET STATE {dst}")
        b.call("dev GET STATE")
        b.close_all()
    return b.scenario


# --- save / restore and QEMU-style flows (QEMU hw/vfio/migration.c) -----------------------
def save_restore(spec: Spec, flags: int, api: str) -> Scenario:
    b = ScenarioBuilder(spec, flags, api, "flow-save-restore", "flows",
                        "PRE_COPY save with PRECOPY_INFO, STOP_COPY, then restore it")
    b.device("dev")
    b.realize("dev")
    b.call("dev GET DATA_SIZE")
    b.call("dev SET STATE PRE_COPY")
    fd = b.data_fd("dev", "saving")
    for _ in range(3):
        b.call(f"fd {fd} precopy_info")
        b.call(f"fd {fd} read 16")
    b.call("dev SET STATE STOP_COPY")
    b.call("dev GET STATE")
    b.drain(fd)
    b.call(f"fd {fd} read 16")
    b.call("dev SET STATE STOP")
    b.call(f"fd {fd} close # run: keep=stream")
    b.comment("restore on the same (reset) device, in two pieces")
    b.call("dev RESET")
    b.call("dev SET STATE RESUMING")
    rfd = b.data_fd("dev", "resuming")
    b.call(f"fd {rfd} write 40 # run: src=saved")
    b.call(f"fd {rfd} write ? # run: src=saved len=rest")
    b.call("dev SET STATE STOP")
    b.call("dev GET STATE")
    b.call(f"fd {rfd} close")
    b.call("dev SET STATE RUNNING")
    b.call("dev GET STATE")
    return b.scenario


def qemu_source(spec: Spec, flags: int, api: str) -> Scenario:
    """QEMU live source: PRE_COPY, iterate, PRE_COPY_P2P, STOP_COPY, drain, STOP, close."""
    b = ScenarioBuilder(spec, flags, api, "flow-qemu-source", "flows",
                        "QEMU live-migration source (PRE_COPY + P2P)")
    b.device("dev")
    b.realize("dev")
    b.call("dev GET DATA_SIZE")
    b.call("dev SET STATE PRE_COPY")
    fd = b.data_fd("dev", "saving")
    b.call(f"fd {fd} precopy_info")
    for _ in range(2):
        b.call("dev GET DATA_SIZE")
        b.call(f"fd {fd} precopy_info")
        b.call(f"fd {fd} read {DRAIN_READ}")
    b.call("dev SET STATE PRE_COPY_P2P")
    b.call("dev SET STATE STOP_COPY")
    b.comment("QEMU 9.0 repeats SET STOP_COPY in save_complete: a no-op")
    b.call("dev SET STATE STOP_COPY")
    b.drain(fd)
    b.call("dev SET STATE STOP")
    b.call(f"fd {fd} close")
    return b.scenario


def qemu_snapshot(spec: Spec, flags: int, api: str) -> Scenario:
    """QEMU savevm: RUNNING_P2P, STOP, STOP_COPY, drain, STOP, close, RUNNING_P2P, RUNNING."""
    b = ScenarioBuilder(spec, flags, api, "flow-qemu-snapshot", "flows",
                        "QEMU savevm snapshot / source without precopy")
    b.device("dev")
    b.realize("dev")
    b.call("dev SET STATE RUNNING_P2P")
    b.call("dev SET STATE STOP")
    b.call("dev GET DATA_SIZE")
    b.call("dev SET STATE STOP_COPY")
    fd = b.data_fd("dev", "saving")
    b.drain(fd)
    b.call("dev SET STATE STOP")
    b.call(f"fd {fd} close")
    b.call("dev SET STATE RUNNING_P2P")
    b.call("dev SET STATE RUNNING")
    b.call("dev GET STATE")
    return b.scenario


def qemu_migrate(spec: Spec, flags: int, api: str) -> Scenario:
    """Source and destination devices in one process (QEMU source and destination)."""
    b = ScenarioBuilder(spec, flags, api, "flow-qemu-migrate", "flows",
                        "QEMU source saves, QEMU destination loads into a second device")
    b.device("src")
    b.device("dst")
    b.realize("src")
    b.realize("dst")
    b.comment("destination load_setup: one combination SET RUNNING -> RESUMING")
    b.call("dst SET STATE RESUMING")
    rfd = b.data_fd("dst", "resuming")
    b.call("src SET STATE PRE_COPY")
    fd = b.data_fd("src", "saving")
    b.call(f"fd {fd} precopy_info")
    b.call(f"fd {fd} read {DRAIN_READ}")
    b.call("src SET STATE PRE_COPY_P2P")
    b.call("src SET STATE STOP_COPY")
    b.drain(fd)
    b.call("src SET STATE STOP")
    b.call(f"fd {fd} close # run: keep=stream")
    b.call(f"fd {rfd} write ? # run: src=saved len=rest")
    b.comment("destination load_cleanup closes the fd while still RESUMING")
    b.call(f"fd {rfd} close")
    b.comment("destination VM start: RESUMING -> RUNNING_P2P (via STOP), then RUNNING")
    b.call("dst SET STATE RUNNING_P2P")
    b.call("dst SET STATE RUNNING")
    b.call("dst GET STATE")
    b.call("src GET STATE")
    return b.scenario


def qemu_two_devices(spec: Spec, flags: int, api: str) -> Scenario | None:
    """QEMU with several P2P devices, every device reaches a P2P state before any
    stops, and on restart every device is RUNNING_P2P before any runs (VMM rule R16,
    docs/uapi.md)."""
    if not {"PRE_COPY_P2P", "RUNNING_P2P"} <= set(usable_states(spec, flags)):
        return None
    b = ScenarioBuilder(spec, flags, api, "flow-qemu-two-devices", "flows",
                        "QEMU source with two P2P devices, then a VM restart")
    devices = ("a", "b")
    for dev in devices:
        b.device(dev)
    for dev in devices:
        b.realize(dev)
    for dev in devices:
        b.call(f"{dev} SET STATE PRE_COPY")
    fds = {dev: b.data_fd(dev, "saving") for dev in devices}
    for dev in devices:
        b.call(f"fd {fds[dev]} precopy_info")
        b.call(f"fd {fds[dev]} read {DRAIN_READ}")
    b.comment("switchover: prepare handlers (P2P) for all devices, then the main handlers")
    for dev in devices:
        b.call(f"{dev} SET STATE PRE_COPY_P2P")
    for dev in devices:
        b.call(f"{dev} SET STATE STOP_COPY")
    for dev in devices:
        b.drain(fds[dev])
    for dev in devices:
        b.call(f"{dev} SET STATE STOP")
        b.call(f"fd {fds[dev]} close")
    b.comment("the migration failed after all: restart the VM, P2P first for every device")
    for dev in devices:
        b.call(f"{dev} SET STATE RUNNING_P2P")
    for dev in devices:
        b.call(f"{dev} SET STATE RUNNING")
        b.call(f"{dev} GET STATE")
    return b.scenario


def qemu_cancel(spec: Spec, flags: int, api: str) -> Scenario:
    """QEMU cancel during PRE_COPY closes the fd first, then SET RUNNING."""
    b = ScenarioBuilder(spec, flags, api, "flow-qemu-cancel", "flows",
                        "QEMU source cancelled during PRE_COPY")
    b.device("dev")
    b.realize("dev")
    b.call("dev SET STATE PRE_COPY")
    fd = b.data_fd("dev", "saving")
    b.call(f"fd {fd} precopy_info")
    b.call(f"fd {fd} read {DRAIN_READ}")
    b.call(f"fd {fd} close")
    b.call("dev GET STATE")
    b.call("dev SET STATE RUNNING")
    b.call("dev GET STATE")
    return b.scenario


def qemu_destination_fail(spec: Spec, flags: int, api: str) -> Scenario:
    """A destination that got only part of the stream: leaving RESUMING must fail; reset."""
    b = ScenarioBuilder(spec, flags, api, "flow-qemu-destination-truncated", "flows",
                        "destination with a truncated stream, recovered by RESET")
    b.device("dev")
    b.realize("dev")
    b.quick_save("dev")
    b.call("dev RESET")
    b.call("dev SET STATE RESUMING")
    rfd = b.data_fd("dev", "resuming")
    b.call(f"fd {rfd} write 40 # run: src=saved")
    b.call(f"fd {rfd} close")
    b.call("dev SET STATE RUNNING_P2P")
    b.call("dev GET STATE")
    b.call("dev RESET")
    b.call("dev GET STATE")
    return b.scenario


# --- error paths ---------------------------------------------------------------------------
def errors_direction(spec: Spec, flags: int, api: str) -> Scenario:
    b = ScenarioBuilder(spec, flags, api, "errors-direction", "errors",
                        "wrong fd direction, wrong fd for PRECOPY_INFO, streams do not seek")
    b.device("dev")
    b.realize("dev")
    b.quick_save("dev")
    b.call("dev RESET")
    b.call("dev SET STATE PRE_COPY")
    fd = b.data_fd("dev", "saving")
    b.call(f"fd {fd} write 1 # run: src=zero")
    b.call(f"fd {fd} precopy_info argsz=8")
    b.call(f"fd {fd} poll")
    b.call(f"fd {fd} lseek")
    b.call(f"fd {fd} pread64 16")
    b.call("dev SET STATE STOP_COPY")
    b.call(f"fd {fd} precopy_info")
    b.call(f"fd {fd} close")
    b.call("dev RESET")
    b.call("dev SET STATE RESUMING")
    rfd = b.data_fd("dev", "resuming")
    b.call(f"fd {rfd} read 16")
    b.call(f"fd {rfd} precopy_info")
    b.call(f"fd {rfd} poll")
    b.call(f"fd {rfd} lseek")
    b.call(f"fd {rfd} write ? # run: src=saved len=rest")
    b.call("dev SET STATE STOP")
    b.call(f"fd {rfd} close")
    return b.scenario


def errors_dead_fds(spec: Spec, flags: int, api: str) -> Scenario:
    b = ScenarioBuilder(spec, flags, api, "errors-dead-fds", "errors",
                        "I/O on fds whose session ended, and on closed fds")
    b.device("dev")
    b.realize("dev")
    b.quick_save("dev")
    b.comment("PRE_COPY session ended by PRE_COPY -> RUNNING")
    b.call("dev RESET")
    b.call("dev SET STATE PRE_COPY")
    fd = b.data_fd("dev", "saving")
    b.call(f"fd {fd} read 16")
    b.call("dev SET STATE RUNNING")
    b.call(f"fd {fd} read 16")
    b.call(f"fd {fd} precopy_info")
    b.call(f"fd {fd} close")
    b.comment("closed fd: read, close again")
    b.call(f"fd {fd} read 16")
    b.call(f"fd {fd} close")
    b.comment("STOP_COPY session ended by STOP_COPY -> STOP")
    b.call("dev SET STATE STOP_COPY")
    fd = b.data_fd("dev", "saving")
    b.drain(fd)
    b.call("dev SET STATE STOP")
    b.call(f"fd {fd} read 16")
    b.call(f"fd {fd} close")
    b.comment("RESUMING session ended by RESUMING -> STOP")
    b.call("dev SET STATE RESUMING")
    rfd = b.data_fd("dev", "resuming")
    b.call(f"fd {rfd} write ? # run: src=saved len=rest")
    b.call("dev SET STATE STOP")
    b.call(f"fd {rfd} write 8 # run: src=zero")
    b.call(f"fd {rfd} close")
    b.call("dev SET STATE RUNNING")
    return b.scenario


def errors_requests(spec: Spec, flags: int, api: str) -> Scenario:
    b = ScenarioBuilder(spec, flags, api, "errors-requests", "errors",
                        "blocked, invalid and out-of-range SETs; SET to the current state")
    b.device("dev")
    b.realize("dev")
    for target in ("ERROR", str(spec.state_limit), "99"):
        b.call(f"dev SET STATE {target}")
        b.call("dev GET STATE")
    b.call("dev SET STATE STOP_COPY")
    for target in ("PRE_COPY", "PRE_COPY_P2P", "ERROR", "STOP_COPY"):
        if target in usable_states(spec, flags) or target == "ERROR":
            b.call(f"dev SET STATE {target}")
            b.call("dev GET STATE")
    b.close_all()
    for same in ("PRE_COPY", "RESUMING", "RUNNING_P2P"):
        if same in usable_states(spec, flags):
            b.call("dev RESET")
            b.call(f"dev SET STATE {same}")
            b.call(f"dev SET STATE {same}")
            b.call("dev GET STATE")
            b.close_all()
    return b.scenario


def errors_resume_streams(spec: Spec, flags: int, api: str) -> Scenario:
    b = ScenarioBuilder(spec, flags, api, "errors-resume-streams", "errors",
                        "bad resume streams: garbage, truncated, completed late")
    b.device("dev")
    b.realize("dev")
    b.quick_save("dev")
    b.comment("garbage header")
    b.call("dev RESET")
    b.call("dev SET STATE RESUMING")
    rfd = b.data_fd("dev", "resuming")
    b.call(f"fd {rfd} write 32 # run: src=garbage")
    b.call("dev SET STATE STOP")
    b.call("dev GET STATE")
    b.call(f"fd {rfd} close")
    b.comment("truncated stream, completed before leaving RESUMING")
    b.call("dev RESET")
    b.call("dev SET STATE RESUMING")
    rfd = b.data_fd("dev", "resuming")
    b.call(f"fd {rfd} write 40 # run: src=saved")
    b.call("dev SET STATE STOP")
    b.call("dev GET STATE")
    b.call(f"fd {rfd} write ? # run: src=saved len=rest")
    b.call("dev SET STATE STOP")
    b.call("dev GET STATE")
    b.call(f"fd {rfd} close")
    b.comment("empty stream, combination request out of RESUMING")
    b.call("dev SET STATE RESUMING")
    rfd = b.data_fd("dev", "resuming")
    b.call("dev SET STATE PRE_COPY")
    b.call("dev GET STATE")
    b.call(f"fd {rfd} close")
    b.call("dev RESET")
    return b.scenario


def errors_reset_mid_session(spec: Spec, flags: int, api: str) -> Scenario:
    b = ScenarioBuilder(spec, flags, api, "errors-reset-mid-session", "errors",
                        "RESET during PRE_COPY, STOP_COPY and RESUMING sessions")
    b.device("dev")
    b.realize("dev")
    for state in ("PRE_COPY", "STOP_COPY", "RESUMING"):
        if state not in usable_states(spec, flags):
            continue
        b.call(f"dev SET STATE {state}")
        kind = "resuming" if state == "RESUMING" else "saving"
        fd = b.data_fd("dev", kind)
        b.call("dev RESET")
        b.call("dev GET STATE")
        if kind == "saving":
            b.call(f"fd {fd} read 16")
        else:
            b.call(f"fd {fd} write 8 # run: src=zero")
        b.call(f"fd {fd} close")
    return b.scenario


# --- seeded random walks over the FSM ----------------------------------------------------
def random_walk(spec: Spec, flags: int, api: str, index: int) -> Scenario:
    rng = random.Random(WALK_SEED + index)
    b = ScenarioBuilder(spec, flags, api, f"walk-{index:02d}", "walks",
                        f"seeded random walk (seed {WALK_SEED + index})")
    b.device("dev")
    b.realize("dev")
    if rng.random() < 0.5:
        b.quick_save("dev")
    states = usable_states(spec, flags)
    for _ in range(WALK_STEPS):
        _walk_step(b, rng, spec, states)
    b.close_all()
    b.call("dev GET STATE")
    return b.scenario


def _walk_step(b: ScenarioBuilder, rng: random.Random, spec: Spec, states: list[str]) -> None:
    saving = [f for f in b.open_fds() if f in b.saving]
    resuming = [f for f in b.open_fds() if f in b.resume_written]
    roll = rng.random()
    if roll < 0.45:
        pick = rng.random()
        target = "ERROR" if pick < 0.03 else str(spec.state_limit) if pick < 0.06 \
            else rng.choice(states)
        b.call(f"dev SET STATE {target}")
    elif roll < 0.55:
        b.call("dev GET STATE")
    elif roll < 0.68 and saving:
        size = rng.choice((16, DRAIN_READ))
        b.call(f"fd {rng.choice(saving)} read {size}")
    elif roll < 0.76 and resuming:
        fd = rng.choice(resuming)
        written = b.resume_written[fd]
        if b.stream_kept and written == "none":
            if rng.random() < 0.5:
                b.call(f"fd {fd} write 16 # run: src=saved")
            else:
                b.call(f"fd {fd} write ? # run: src=saved len=rest")
        elif b.stream_kept:
            b.call(f"fd {fd} write ? # run: src=saved len=rest")
        else:
            b.call(f"fd {fd} write 8 # run: src=garbage")
    elif roll < 0.82 and saving:
        b.call(f"fd {rng.choice(saving)} precopy_info")
    elif roll < 0.90 and (saving or resuming):
        fd = rng.choice(saving + resuming)
        keep = " # run: keep=stream" if fd in b.saving and b.saving[fd].drained else ""
        b.call(f"fd {fd} close{keep}")
    elif roll < 0.95:
        b.call("dev RESET")
    else:
        b.call("dev GET DATA_SIZE")


# --- all of them ----------------------------------------------------------------------------
Family = Callable[[Spec, int, str], "Scenario | None"]   # None: not possible under the flags
FIXED: tuple[Family, ...] = (
    pairs_from_resumed, save_restore, qemu_source, qemu_snapshot, qemu_migrate,
    qemu_two_devices, qemu_cancel, qemu_destination_fail, errors_direction, errors_dead_fds,
    errors_requests, errors_resume_streams, errors_reset_mid_session,
)


def all_scenarios(spec: Spec, flags: int, api: str, walks: int = WALKS) -> Iterator[Scenario]:
    for src in usable_states(spec, flags):
        yield pairs_from(spec, flags, api, src)
    for family in FIXED:
        scenario = family(spec, flags, api)
        if scenario is not None:
            yield scenario
    for index in range(walks):
        yield random_walk(spec, flags, api, index)
    yield from reopen_scenarios(spec, flags, api)


def write_all(out: Path, spec: Spec, flags: int, walks: int = WALKS) -> int:
    count = 0
    for api in APIS:
        for scenario in all_scenarios(spec, flags, api, walks):
            scenario.write(out / api, spec, flags)
            count += 1
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="directory for <api>/<name>.vmc + sidecars")
    parser.add_argument("--spec", default="linux-6.12")
    parser.add_argument("--flags", default="0x7")
    parser.add_argument("--walks", type=int, default=WALKS)
    args = parser.parse_args(argv)
    spec = load_spec(args.spec)
    count = write_all(args.out, spec, int(args.flags, 0), args.walks)
    print(f"wrote {count} scenarios to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
