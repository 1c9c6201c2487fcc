"""Human text view: per finding the trace line, then observed / allowed / continuing with,
then a verdict per device and a summary (SibylFS-style deviation report).

The report is a list of lines, each a base style and styled pieces of text. At a terminal
rich prints them in colour; piped or into a file (no colour, nothing wrapped) the same text
is written directly (:class:`PlainText`), so ``check | grep`` and ``check -o FILE`` do not
import rich at all (start-up of ``check``, issue 12).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TextIO

from vfio_migcheck.checker.repeats import repeats_note
from vfio_migcheck.checker.reports import UNWRAPPED_WIDTH
from vfio_migcheck.checker.reports.json import summary
from vfio_migcheck.checker.results import DeviceResult, Finding, TraceResult
from vfio_migcheck.checker.rules import get_rule
from vfio_migcheck.traces.lines import open_binary

if TYPE_CHECKING:
    from rich.console import Console

_SEV_STYLE = {"error": "bold red", "warning": "yellow", "note": "cyan"}
_VERDICT_STYLE = {"pass": "bold green", "fail": "bold red", "inconclusive": "bold yellow",
                  "unchecked": "bold magenta"}
#: trace text echoed in a report is cut here (a hostile line may be megabytes long)
MAX_SHOWN = 300
MAX_FINDINGS_PER_TRACE = 200


def source_lines(findings: list[Finding]) -> dict[tuple[str, int], str]:
    """The captured text of the lines these findings point at, read in one streaming pass
    per file up to the last line needed (compressed captures too): never the whole file in
    memory, as linecache would hold it."""
    wanted: dict[str, set[int]] = {}
    for f in findings:
        if f.line > 0:
            wanted.setdefault(f.file, set()).add(f.line)
    found: dict[tuple[str, int], str] = {}
    for file, numbers in wanted.items():
        last = max(numbers)
        try:
            with open_binary(file) as handle:
                for number, raw in enumerate(handle, 1):
                    if number in numbers:
                        found[(file, number)] = raw.decode("utf-8", "replace").rstrip("\r\n")
                    if number >= last:
                        break
        except (OSError, ValueError, EOFError):
            continue  # the events' own description stands in for the line
    return found


def _source_line(f: Finding, lines: dict[tuple[str, int], str]) -> str:
    """The trace line itself (what the user captured), else the event as the checker saw it."""
    text = lines.get((f.file, f.line), "")
    return _clip(text.strip() or f.observed or "(end of trace)")


def _clip(text: str) -> str:
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN - 1] + "…"


#: one line of the report: its base style (the whole line) and its pieces (text, style)
Line = tuple[str, tuple[tuple[str, str], ...]]

#: what rich drops from printed text: BEL, BS, VT, FF and CR (rich.control)
_RICH_DROPS = dict.fromkeys((7, 8, 11, 12, 13))


class PlainText:
    """The report written as plain text to a stream, exactly as a rich console that prints
    no colour and wraps nothing would write it (tests/test_text_report_plain.py): the
    control characters rich drops are dropped, and a line holding a tab (rich expands tabs
    by the cells of wide characters) is handed to such a console."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream
        self._rich: Console | None = None

    @property
    def stream(self) -> TextIO:
        if self._stream is not None:
            return self._stream
        import sys

        return sys.stdout      # looked up when written, as rich does

    def print_line(self, line: Line) -> None:
        text = "".join(piece for piece, _ in line[1])
        if "\t" in text:
            _print_rich(self._tabs_console(), line)
            return
        self.stream.write(text.translate(_RICH_DROPS) + "\n")

    def _tabs_console(self) -> Console:
        if self._rich is None:
            from rich.console import Console

            self._rich = Console(file=self.stream, highlight=False, soft_wrap=True,
                                 width=UNWRAPPED_WIDTH, no_color=True, color_system=None)
        return self._rich


def _print_rich(console: Console, line: Line) -> None:
    from rich.text import Text

    text = Text(style=line[0])
    for piece, style in line[1]:
        text.append(piece, style=style or None)
    console.print(text)


def _line(base: str, *pieces: str | tuple[str, str]) -> Line:
    return base, tuple((p, "") if isinstance(p, str) else p for p in pieces)


def _finding(f: Finding, lines: dict[tuple[str, int], str]) -> list[Line]:
    rule = get_rule(f.rule)
    out = [_line("bold", f"{f.line}: ", _source_line(f, lines))]
    label = f" {f.rule}"
    if rule is not None:
        party = "trace" if rule.party == "unknown" else rule.party
        label += f" {rule.name} ({party}"
        label += f", {rule.uapi_rule})" if rule.uapi_rule else ")"
    device = f" {f.device}" if f.device and f.device != "-" else ""
    out.append(_line("", "# ", (f.severity.capitalize(), _SEV_STYLE.get(f.severity, "")),
                     (label, "bold"), f"{device}: {_clip(f.message)}"))
    for name, value in (("observed", f.observed), ("allowed are only", f.allowed),
                        ("continuing with", f.continuing)):
        if value:
            out.append(_line("dim", f"#    {name}: ", _clip(value)))
    if rule is not None and not f.allowed:
        out.append(_line("dim", "#    how to fix: ", rule.fix))
    if rule is not None and rule.cite and rule.cite != "-":
        out.append(_line("dim", f"#    see: {rule.cite}"))
    if f.suppressed:
        out.append(_line("bold", f"#    {repeats_note(f)}"))
    return out


def _device(d: DeviceResult) -> list[Line]:
    flags = d.flags if d.flags != "?" else "? (fits " + ", ".join(d.flags_candidates) + ")"
    out = [_line("", "  device ", (d.name, "bold"), f"  flags {flags}  ",
                 (d.verdict.upper(), _VERDICT_STYLE[d.verdict]),
                 "  final state " + (" | ".join(d.final_states) or "?"))]
    out.extend(_line("yellow", f"    - {reason}") for reason in d.inconclusive_reasons)
    return out


def _findings(r: TraceResult) -> list[Line]:
    shown = list(r.findings[:MAX_FINDINGS_PER_TRACE])
    lines = source_lines(shown)
    return [line for f in shown for line in _finding(f, lines)]


def report_lines(results: list[TraceResult], quiet: bool = False) -> list[Line]:
    """The report's lines; ``quiet`` keeps the findings only (no headers, verdicts or
    summary)."""
    if quiet:
        return [line for r in results for line in _findings(r)]
    out: list[Line] = []
    for r in results:
        if r.error:
            out.append(_line("bold underline", r.file))
            out.append(_line("bold red", f"  cannot check: {r.error}"))
            out.append(_line(""))
            continue
        events = r.extra.get("events", 0)
        out.append(_line("bold underline", r.file, (f"  ({r.format}, {events} events)", "dim")))
        out.extend(_findings(r))
        hidden = len(r.findings) - MAX_FINDINGS_PER_TRACE
        if hidden > 0:
            out.append(_line("dim", f"# … {hidden} more findings (use --output json)"))
        if not r.devices:
            out.append(_line("bold magenta", "  no VFIO migration device in this trace: "
                                             "nothing was checked"))
        for d in r.devices:
            out.extend(_device(d))
        unreadable = r.read_summary.get("unreadable") or []
        if unreadable:
            out.append(_line("cyan", f"  {len(unreadable)} unreadable line(s) (T001)"))
        out.append(_line(""))
    out.extend(_summary(results))
    return out


def _summary(results: list[TraceResult]) -> list[Line]:
    s = summary(results)
    sev, ver = s["by_severity"], s["verdicts"]
    pieces: list[str | tuple[str, str]] = [f"{s['traces']} trace(s)"]
    if s["unreadable_traces"]:
        pieces.append((f" ({s['unreadable_traces']} unreadable)", "bold red"))
    pieces += [f", {s['devices']} device(s): ",
               (f"{ver['pass']} pass", _VERDICT_STYLE["pass"]), ", ",
               (f"{ver['fail']} fail", _VERDICT_STYLE["fail"]), ", ",
               (f"{ver['inconclusive']} inconclusive", _VERDICT_STYLE["inconclusive"]), ", ",
               (f"{ver['unchecked']} unchecked", _VERDICT_STYLE["unchecked"]),
               f"; findings: {sev['error']} error(s), {sev['warning']} warning(s), "
               f"{sev['note']} note(s)"]
    out = [_line("bold", "Summary: ", *pieces)]
    if s["unchecked_traces"]:
        out.append(_line("bold magenta", f"Nothing was checked in {s['unchecked_traces']} "
                                         "trace(s) (reasons above): exit status 3, not a pass"))
    return out


def render(results: list[TraceResult], console: Console | PlainText,
           quiet: bool = False) -> None:
    """Print the report to a rich console (colour at a terminal) or as plain text."""
    for line in report_lines(results, quiet):
        if isinstance(console, PlainText):
            console.print_line(line)
        else:
            _print_rich(console, line)
