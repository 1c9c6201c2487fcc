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

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TextIO

from vfio_migcheck.audit.collect import Capture
from vfio_migcheck.audit.merge import Partial, partial_of
from vfio_migcheck.audit.runner import (
    _SPECS,
    CheckedCapture,
    CheckFn,
    CheckOptions,
    check_capture,
    check_with_api,
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
