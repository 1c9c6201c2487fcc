"""Concise view: one finding per line, ``path:line:col: RULE message``, as gcc, ruff and
shellcheck print them, so editors and CI log parsers jump straight to the trace line.

A finding is about a whole trace line, so the column is always 1. After the findings come
one line per device with its verdict (and, when inconclusive, why) and a summary line;
neither starts with ``path:line:``, so a parser looking for findings skips them, and
``quiet`` leaves them out.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from vfio_migcheck.checker.repeats import repeats_note
from vfio_migcheck.checker.reports.json import summary
from vfio_migcheck.checker.results import Finding, TraceResult


def finding_line(f: Finding) -> str:
    """``path:line:1: RULE [severity] device: message`` on one line, whatever the message."""
    device = f"{f.device}: " if f.device and f.device != "-" else ""
    message = " ".join(f"{device}{f.message}".split())
    if f.suppressed:   # the count stays on the finding's own line: one line per finding
        message += f" ({repeats_note(f)})"
    return f"{f.file}:{max(f.line, 1)}:1: {f.rule} [{f.severity}] {message}"


def concise_lines(results: Iterable[TraceResult], quiet: bool = False) -> Iterator[str]:
    results = list(results)
    for r in results:
        for f in r.findings:
            yield finding_line(f)
    if quiet:
        return
    for r in results:
        if r.error:
            yield f"{r.file}: unreadable: {' '.join(r.error.split())}"
            continue
        if not r.devices:
            yield f"{r.file}: no VFIO migration device: nothing was checked"
        for d in r.devices:
            why = "; ".join(" ".join(reason.split()) for reason in d.inconclusive_reasons)
            yield f"{r.file}: device {d.name} {d.verdict.upper()}" + (f" ({why})" if why else "")
    s = summary(results)
    sev, ver = s["by_severity"], s["verdicts"]
    yield (f"{s['traces']} trace(s), {s['devices']} device(s): {ver['pass']} pass, "
           f"{ver['fail']} fail, {ver['inconclusive']} inconclusive, {ver['unchecked']} "
           f"unchecked; findings: {sev['error']} error(s), {sev['warning']} warning(s), "
           f"{sev['note']} note(s)")
