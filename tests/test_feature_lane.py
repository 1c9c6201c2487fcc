"""The device-call lane (``Engine._feature_lane``) against the general path of ``on_feature``.

Decoded captures repeat the same device calls loop after loop; the lane replays a call's
cached, silent step without decoding the request again. Whatever it takes, the whole
result must be the one ``Engine(fast=False)`` gives: traces made of loops of device calls
of every kind (GET/SET/PROBE of each feature, failed calls, malformed argsz, raw flags
words, replies with and without a state, SETs without a target) and data lines between
them, read from canonical text.
"""

from __future__ import annotations

from dataclasses import asdict
from functools import partial

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.test_engine_properties import SPEC
from vfio_migcheck.checker import api
from vfio_migcheck.checker.api import check_events
from vfio_migcheck.checker.engine import Engine
from vfio_migcheck.traces.canonical.reader import read_text

HEAD = "device d0 fd=9 flags=STOP_COPY|P2P|PRE_COPY state=RUNNING\n"
CALLS = [
    "d0 GET MIGRATION argsz=16 = 0 flags=STOP_COPY|P2P|PRE_COPY",
    "d0 GET MIGRATION argsz=16 = -1 EINVAL",
    "d0 PROBE MIGRATION = 0",
    "d0 SET DMA_LOGGING_START argsz=32 = 0",
    "d0 SET DMA_LOGGING_STOP argsz=8 = 0",
    "d0 GET DMA_LOGGING_REPORT argsz=40 = 0",
    "d0 GET DMA_LOGGING_REPORT argsz=8 = -1 EINVAL",
    "d0 SET STATE PRE_COPY argsz=16 = 0 data_fd=45",
    "d0 SET STATE PRE_COPY_P2P argsz=16 = 0 data_fd=-1",
    "d0 SET STATE STOP_COPY = 0 data_fd=-1",
    "d0 SET STATE STOP argsz=16 = 0 data_fd=-1",
    "d0 SET STATE RUNNING argsz=16 = 0 data_fd=-1",
    "d0 SET STATE RUNNING = -1 EINVAL",
    "d0 SET STATE ? = 0 data_fd=?",
    "d0 SET STATE STOP argsz=16 rawflags=0x20002 = 0 data_fd=-1",
    "d0 GET STATE = 0 state=RUNNING data_fd=-1",
    "d0 GET STATE = 0 state=?",
    "d0 GET STATE = -1 EIO",
    "d0 PROBE STATE GET|SET = 0",
    "d0 ? ? = 0",
    "fd 45 read 64 = 64",
    "fd 45 precopy_info argsz=24 = 0 initial=64 dirty=0",
    "fd 45 read 64 = 0",
    "fd 45 close = 0",
]
ROUND = [
    "d0 GET MIGRATION argsz=16 = 0 flags=STOP_COPY|P2P|PRE_COPY",
    "d0 SET DMA_LOGGING_START argsz=32 = 0",
    "d0 SET STATE PRE_COPY argsz=16 = 0 data_fd=45",
    "fd 45 precopy_info argsz=24 = 0 initial=64 dirty=0",
    "fd 45 read 64 = 64",
    "d0 GET DMA_LOGGING_REPORT argsz=40 = 0",
    "d0 SET STATE PRE_COPY_P2P argsz=16 = 0 data_fd=-1",
    "d0 SET STATE STOP_COPY argsz=16 = 0 data_fd=-1",
    "fd 45 read 64 = 0",
    "d0 SET STATE STOP argsz=16 = 0 data_fd=-1",
    "fd 45 close = 0",
    "d0 GET STATE = 0 state=STOP data_fd=-1",
    "d0 SET DMA_LOGGING_STOP argsz=8 = 0",
    "d0 SET STATE RUNNING argsz=16 = 0 data_fd=-1",
]


def _fast_and_general(text: str) -> tuple[dict, dict]:
    events = list(read_text(text, "lane.vmc"))
    fast = asdict(check_events(events, spec=SPEC, file="lane.vmc"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(api, "Engine", partial(Engine, fast=False))
        general = asdict(check_events(events, spec=SPEC, file="lane.vmc"))
    return fast, general


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(CALLS), min_size=1, max_size=8), st.integers(1, 6),
       st.lists(st.sampled_from(CALLS), max_size=3))
def test_loops_of_device_calls_check_the_same_with_and_without_the_lane(
        loop: list[str], times: int, head: list[str]) -> None:
    fast, general = _fast_and_general(HEAD + "\n".join(head + loop * times) + "\n")
    assert fast == general


def test_the_lane_takes_a_decoded_loop_and_keeps_every_finding() -> None:
    # a failed SET with its findings in the middle of the rounds, and a malformed call
    lines = ROUND * 6 + ["d0 GET DMA_LOGGING_REPORT argsz=8 = -1 EINVAL"] + ROUND * 6
    text = HEAD + "\n".join(lines) + "\n"
    engine = Engine(SPEC)
    engine.feed(read_text(text, "lane.vmc"))
    engine.finish()
    device_calls = sum(line.startswith("d0 ") for line in lines)
    assert engine.feature_hits > device_calls // 2, (engine.feature_hits, device_calls)
    fast, general = _fast_and_general(text)
    assert fast == general
    assert any(f["rule"] == "U010" for f in fast["findings"]), fast["findings"]
