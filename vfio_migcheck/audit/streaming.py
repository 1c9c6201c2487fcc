"""The streaming audit (``--jsonl FILE``): per-capture detail out, summary reduced as it comes.

Each capture is turned, where it was checked, into an :class:`Outcome`: its partial summary
(``merge.Partial``), its detail as one JSON line (the ``captures[]`` entry of the JSON
report) and its terminal line. The client writes the line, merges the partial into the
running summary and forgets the capture, so its memory does not grow with the number of
captures (only with the packed pairing candidates: tens of bytes plus the path per pairable
capture). The
final report is ``summary.finish`` of the merged partial: the same numbers as the in-memory
audit, with an empty ``captures`` list.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import (
    FIRST_COMPLETED,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    wait,
)
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import TextIO

from vfio_migcheck.audit.collect import Capture
from vfio_migcheck.audit.merge import Partial, partial_of
from vfio_migcheck.audit.runner import (
    _SPECS,
    CheckedCapture,
    CheckFn,
    CheckOptions,
    check_alone,
    check_capture,
    check_with_api,
    error_result,
)
from vfio_migcheck.model.spec import Spec


@dataclass(frozen=True)
class Outcome:
    """Some captures, checked where they were read: their merged partial summary, and per
    capture its path, detail (one JSON line, no newline) and terminal row."""

    partial: Partial
    paths: tuple[str, ...]
    details: tuple[str, ...]
    lines: tuple[str, ...]


def outcome_of(checked: CheckedCapture, spec: Spec, flags: int | None,
               paired: frozenset[str]) -> Outcome:
    from vfio_migcheck.audit.jsonout import capture_json
    from vfio_migcheck.audit.summary import capture_entry
    from vfio_migcheck.audit.text import capture_line

    entry = capture_entry(checked)
    return Outcome(
        partial=partial_of(entry, spec, flags, paired), paths=(entry.path,),
        details=(json.dumps(capture_json(entry), ensure_ascii=False),),
        lines=(capture_line(entry),),
    )


def combine(outcomes: list[Outcome]) -> Outcome:
    """The outcome of a batch: partials merged here (the first level of the reduction)."""
    partial = Partial()
    for o in outcomes:
        partial.merge(o.partial)
    return Outcome(partial, tuple(p for o in outcomes for p in o.paths),
                   tuple(d for o in outcomes for d in o.details),
                   tuple(line for o in outcomes for line in o.lines))


def spec_named(name: str) -> Spec:
    """The spec, loaded once per process (shared with the runner's cache)."""
    from vfio_migcheck.model.spec import load_spec

    spec = _SPECS.get(name)
    if spec is None:
        spec = _SPECS[name] = load_spec(name)
    return spec  # type: ignore[return-value]


def audit_batch(captures: list[Capture], options: CheckOptions,
                check: CheckFn = check_with_api, paired: frozenset[str] = frozenset(),
                ) -> Outcome:
    """The whole work of a batch of captures, run where they are read (a worker)."""
    spec = spec_named(options.spec)
    return combine([outcome_of(check_capture(c, options, check), spec, options.flags, paired)
                    for c in captures])


def reduce_outcomes(outcomes: Iterable[Outcome], jsonl: TextIO | None,
                    on_done: Callable[[Outcome], None] | None = None) -> Partial:
    """Write each outcome's detail line, merge its partial, keep nothing else."""
    total = Partial()
    for outcome in outcomes:
        if jsonl is not None:
            jsonl.writelines(detail + "\n" for detail in outcome.details)
        total.merge(outcome.partial)
        if on_done:
            on_done(outcome)
    return total


LOCAL_BATCH = 8           # captures per task with -j: a pipe round trip each, not per capture
LOCAL_WINDOW = 4          # tasks in flight per worker process


def audit_outcomes_local(captures: Iterable[Capture], options: CheckOptions, spec: Spec,
                         jobs: int, check: CheckFn = check_with_api,
                         named: frozenset[str] = frozenset(), batch: int = LOCAL_BATCH,
                         ) -> Iterator[Outcome]:
    """The streaming audit (``--jsonl``) with ``-j``: batches of captures checked and merged
    in ``jobs`` worker processes, a bounded window of them in flight, the outcomes yielded
    as they come; ``captures`` (a stream) is consumed as batches are handed out. With one
    worker the outcomes come in capture order.

    A worker that dies breaks the pool: every batch in flight is lost, so each of their
    captures is re-run alone in a process of its own (``jobs`` at a time, as ``run_checks``
    does) and only one that kills that process too is reported as crashed; the rest of the
    stream goes on in a fresh pool.
    """
    stream = iter(captures)
    batches = iter(lambda: list(itertools.islice(stream, batch)), [])
    while True:
        survivors: list[Capture] = []
        yield from _pool_round(batches, survivors, options, spec, jobs, check, named)
        if not survivors:
            return
        with ThreadPoolExecutor(max_workers=jobs) as threads:
            for checked in threads.map(lambda c: check_alone(c, options, check),
                                       sorted(survivors)):
                yield outcome_of(checked, spec, options.flags, named)


def _pool_round(batches: Iterator[list[Capture]], survivors: list[Capture],
                options: CheckOptions, spec: Spec, jobs: int, check: CheckFn,
                named: frozenset[str]) -> Iterator[Outcome]:
    """Hand batches to one pool until they run out or the pool breaks; the captures of
    the batches the break lost go to ``survivors``."""
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        in_flight: dict[Future, list[Capture]] = {}
        more = LOCAL_WINDOW * jobs
        while True:
            if not survivors:
                for group in itertools.islice(batches, more):
                    in_flight[pool.submit(audit_batch, group, options, check, named)] = group
            if not in_flight:
                return
            done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            more = len(done)
            # in the order handed out (``done`` is a set): one worker keeps capture order
            for future in [f for f in in_flight if f in done]:
                group = in_flight.pop(future)
                try:
                    yield future.result()
                except BrokenProcessPool:
                    survivors += group
                except Exception as exc:  # noqa: BLE001 - e.g. a result that cannot be pickled
                    yield combine([outcome_of(CheckedCapture(c, error_result(
                        c.path, f"{c.path}: checker result lost: {type(exc).__name__}")),
                        spec, options.flags, named) for c in group])
