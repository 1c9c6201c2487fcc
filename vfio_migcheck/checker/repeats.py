"""Repeated findings, capped: memory follows the findings a report shows, not the trace length.

A capture that repeats one violation on every migration (or an unreadable line shape on
every line) would otherwise keep one Finding per occurrence: millions in an hour-long
capture. The engine appends its findings to a :class:`FindingLog`; it keeps the first
``max_repeats`` findings of each (rule, device, severity) and only counts the rest. The
last kept finding of a group carries that count (``suppressed``) and the line of the last
one it stands for, so every report format can say "… and K more like this".

Severity is part of the group so that an error is never hidden behind notes of the same
rule (a misfit is downgraded to a note once the device's readings were cut): the verdicts,
which depend only on whether an error exists, are the same whatever the cap.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace

from vfio_migcheck.checker.results import Finding

#: findings kept per (rule, device, severity) by ``check`` unless --max-repeats says otherwise
DEFAULT_MAX_REPEATS = 10

GroupKey = tuple[str, str, str]


def group_key(finding: Finding) -> GroupKey:
    """What makes two findings "alike": the same rule, on the same device, as severe."""
    return (finding.rule, finding.device, finding.severity)


class FindingLog:
    """Where the engine appends findings: keeps the first ``max_repeats`` of each group
    (0 keeps all), counts the others. Memory is bounded by the number of groups (rules x
    devices x severities) times the cap, whatever the trace's length."""

    def __init__(self, max_repeats: int = 0) -> None:
        if max_repeats < 0:
            raise ValueError("max_repeats must be 0 (no cap) or positive")
        self.max_repeats = max_repeats
        self._kept: list[Finding] = []
        self._per_group: dict[GroupKey, int] = {}
        self._suppressed: dict[GroupKey, int] = {}
        self._last_line: dict[GroupKey, int] = {}

    def append(self, finding: Finding) -> None:
        key = group_key(finding)
        seen = self._per_group.get(key, 0)
        if self.max_repeats and seen >= self.max_repeats:
            self._suppressed[key] = self._suppressed.get(key, 0) + 1
            last = self._last_line.get(key, 0)
            self._last_line[key] = max(last, finding.line)
            return
        self._per_group[key] = seen + 1
        self._kept.append(finding)

    def extend(self, findings: Iterable[Finding]) -> None:
        for finding in findings:
            self.append(finding)

    def __iter__(self) -> Iterator[Finding]:
        return iter(self.collected())

    def __len__(self) -> int:
        return len(self._kept)

    @property
    def suppressed(self) -> int:
        """How many findings were counted but not kept, over all groups."""
        return sum(self._suppressed.values())

    def collected(self) -> list[Finding]:
        """The kept findings in the order they came; the last kept one of each group that
        overflowed carries the number it stands for and the last such line."""
        if not self._suppressed:
            return list(self._kept)
        last_index: dict[GroupKey, int] = {}
        for index, finding in enumerate(self._kept):
            last_index[group_key(finding)] = index
        out = list(self._kept)
        for key, count in self._suppressed.items():
            index = last_index[key]
            out[index] = replace(out[index], suppressed=count,
                                 suppressed_last_line=self._last_line[key])
        return out


def occurrences(finding: Finding) -> int:
    """How many findings of the trace this one stands for (itself and those it suppressed)."""
    return 1 + finding.suppressed


def repeats_note(finding: Finding) -> str:
    """The one line every report prints under a finding that stands for others."""
    if not finding.suppressed:
        return ""
    plural = "finding" if finding.suppressed == 1 else "findings"
    on = f" on {finding.device}" if finding.device not in ("", "-") else ""
    return (f"… and {finding.suppressed} more {plural} like this ({finding.rule}{on}, "
            f"{finding.severity}) up to line {finding.suppressed_last_line}; "
            "--max-repeats 0 lists them all")
