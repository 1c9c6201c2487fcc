"""Where the time went, from the timestamps a capture carries (``-tt``, ``-ttt``, QEMU logs).

Three measures per device:

* **time in state**: the device's state sequence cut into spans; a span runs from one
  observation to the next and counts only when the state after the first one is determined
  (exactly one candidate) and both ends have timestamps. The last observation's state runs
  until the device's last event.
* **stop-copy duration** per saving session: entering STOP_COPY until the read() that
  returned 0 (end of stream).
* **stop windows**: the device not running (STOP, STOP_COPY, RESUMING, ERROR...) from the
  first observation where it is certainly stopped until the first where it certainly runs
  again (RUNNING, RUNNING_P2P, PRE_COPY, PRE_COPY_P2P keep the device executing). This is
  the device's share of a migration's downtime.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from vfio_migcheck.checker.results import DeviceResult, StateObservation

RUNNING_STATES = frozenset({"RUNNING", "RUNNING_P2P", "PRE_COPY", "PRE_COPY_P2P"})


@dataclass(frozen=True)
class Span:
    state: str
    start_line: int
    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class StopWindow:
    start_line: int
    start: float | None
    end_line: int | None       # None: the capture ends with the device still stopped
    end: float | None
    states: tuple[str, ...]    # determined states passed through, in order

    @property
    def duration(self) -> float | None:
        if self.start is None or self.end is None:
            return None
        return self.end - self.start

    @property
    def closed(self) -> bool:
        return self.end_line is not None


@dataclass(frozen=True)
class DeviceTiming:
    device: str
    spans: tuple[Span, ...]
    time_in_state: dict[str, float]
    stop_copy: tuple[float, ...]           # per saving session that reached EOF
    stop_windows: tuple[StopWindow, ...]
    first_ts: float | None = None          # the device's first and last event
    last_ts: float | None = None

    @property
    def has_times(self) -> bool:
        return bool(self.spans or self.stop_copy or any(
            w.duration is not None for w in self.stop_windows))


def state_spans(states: Sequence[StateObservation], end_ts: float | None) -> list[Span]:
    """Spans of determined state, merged when the same state is observed twice in a row."""
    spans: list[Span] = []
    extends = False   # did the previous observation produce (or extend) spans[-1]?
    for i, obs in enumerate(states):
        end = states[i + 1].ts if i + 1 < len(states) else end_ts
        if len(obs.states) != 1 or obs.ts is None or end is None or end <= obs.ts:
            extends = False   # undetermined, untimed, or an instant: no time spent
            continue
        state = obs.states[0]
        if extends and spans[-1].state == state:
            last = spans[-1]
            spans[-1] = Span(state, last.start_line, last.start, end)
        else:
            spans.append(Span(state, obs.line, obs.ts, end))
        extends = True
    return spans


def time_in_state(spans: Sequence[Span]) -> dict[str, float]:
    out: dict[str, float] = {}
    for span in spans:
        out[span.state] = out.get(span.state, 0.0) + span.duration
    return out


def stop_windows(states: Sequence[StateObservation]) -> list[StopWindow]:
    """Maximal runs in which the device is certainly not running."""
    windows: list[StopWindow] = []
    start: StateObservation | None = None
    visited: list[str] = []
    for obs in states:
        if not obs.states:
            continue
        running = [s in RUNNING_STATES for s in obs.states]
        if start is None:
            if not any(running):
                start, visited = obs, []
                _visit(visited, obs)
        elif all(running):
            windows.append(StopWindow(start.line, start.ts, obs.line, obs.ts, tuple(visited)))
            start = None
        else:
            _visit(visited, obs)
    if start is not None:
        windows.append(StopWindow(start.line, start.ts, None, None, tuple(visited)))
    return windows


def _visit(visited: list[str], obs: StateObservation) -> None:
    if len(obs.states) == 1 and (not visited or visited[-1] != obs.states[0]):
        visited.append(obs.states[0])


def stop_copy_durations(device: DeviceResult) -> list[float]:
    return [
        s.eof_ts - s.stop_copy_ts
        for s in device.sessions
        if s.kind == "saving" and s.eof_ts is not None and s.stop_copy_ts is not None
        and s.eof_ts >= s.stop_copy_ts
    ]


def device_timing(device: DeviceResult) -> DeviceTiming:
    spans = state_spans(device.states, device.last_ts)
    return DeviceTiming(
        device=device.name,
        spans=tuple(spans),
        time_in_state=time_in_state(spans),
        stop_copy=tuple(stop_copy_durations(device)),
        stop_windows=tuple(stop_windows(device.states)),
        first_ts=device.first_ts,
        last_ts=device.last_ts,
    )
