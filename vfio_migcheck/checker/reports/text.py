"""Human text view (rich): per finding the trace line, then observed / allowed /
continuing with, then a verdict per device and a summary (SibylFS-style deviation report)."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from vfio_migcheck.checker.repeats import repeats_note
from vfio_migcheck.checker.reports.json import summary
from vfio_migcheck.checker.results import DeviceResult, Finding, TraceResult
from vfio_migcheck.checker.rules import get_rule
from vfio_migcheck.traces.lines import open_binary

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


def _finding(console: Console, f: Finding, lines: dict[tuple[str, int], str]) -> None:
    rule = get_rule(f.rule)
    head = Text(f"{f.line}: ", style="bold")
    head.append(_source_line(f, lines))
    console.print(head)
    title = Text("# ")
    title.append(f.severity.capitalize(), style=_SEV_STYLE.get(f.severity, ""))
    label = f" {f.rule}"
    if rule is not None:
        party = "trace" if rule.party == "unknown" else rule.party
        label += f" {rule.name} ({party}"
        label += f", {rule.uapi_rule})" if rule.uapi_rule else ")"
    title.append(label, style="bold")
    device = f" {f.device}" if f.device and f.device != "-" else ""
    title.append(f"{device}: {_clip(f.message)}")
    console.print(title)
    for name, value in (("observed", f.observed), ("allowed are only", f.allowed),
                        ("continuing with", f.continuing)):
        if value:
            console.print(Text(f"#    {name}: ", style="dim") + Text(_clip(value)))
    if rule is not None and not f.allowed:
        console.print(Text("#    how to fix: ", style="dim") + Text(rule.fix))
    if rule is not None and rule.cite and rule.cite != "-":
        console.print(Text(f"#    see: {rule.cite}", style="dim"))
    if f.suppressed:
        console.print(Text(f"#    {repeats_note(f)}", style="bold"))


def _device(console: Console, d: DeviceResult) -> None:
    line = Text("  device ")
    line.append(d.name, style="bold")
    flags = d.flags if d.flags != "?" else "? (fits " + ", ".join(d.flags_candidates) + ")"
    line.append(f"  flags {flags}  ")
    line.append(d.verdict.upper(), style=_VERDICT_STYLE[d.verdict])
    line.append("  final state " + (" | ".join(d.final_states) or "?"))
    console.print(line)
    for reason in d.inconclusive_reasons:
        console.print(Text(f"    - {reason}", style="yellow"))


def render(results: list[TraceResult], console: Console, quiet: bool = False) -> None:
    """The report; ``quiet`` keeps the findings only (no headers, verdicts or summary)."""
    if quiet:
        for r in results:
            shown = list(r.findings[:MAX_FINDINGS_PER_TRACE])
            lines = source_lines(shown)
            for f in shown:
                _finding(console, f, lines)
        return
    for r in results:
        header = Text(r.file, style="bold underline")
        if r.error:
            console.print(header)
            console.print(Text(f"  cannot check: {r.error}", style="bold red"))
            console.print()
            continue
        events = r.extra.get("events", 0)
        header.append(f"  ({r.format}, {events} events)", style="dim")
        console.print(header)
        shown = list(r.findings[:MAX_FINDINGS_PER_TRACE])
        lines = source_lines(shown)
        for f in shown:
            _finding(console, f, lines)
        hidden = len(r.findings) - MAX_FINDINGS_PER_TRACE
        if hidden > 0:
            console.print(Text(f"# … {hidden} more findings (use --output json)", style="dim"))
        if not r.devices:
            console.print(Text("  no VFIO migration device in this trace: nothing was checked",
                               style="bold magenta"))
        for d in r.devices:
            _device(console, d)
        unreadable = r.read_summary.get("unreadable") or []
        if unreadable:
            console.print(Text(f"  {len(unreadable)} unreadable line(s) (T001)", style="cyan"))
        console.print()
    s = summary(results)
    sev, ver = s["by_severity"], s["verdicts"]
    text = Text("Summary: ", style="bold")
    text.append(f"{s['traces']} trace(s)")
    if s["unreadable_traces"]:
        text.append(f" ({s['unreadable_traces']} unreadable)", style="bold red")
    text.append(f", {s['devices']} device(s): ")
    text.append(f"{ver['pass']} pass", style=_VERDICT_STYLE["pass"])
    text.append(", ")
    text.append(f"{ver['fail']} fail", style=_VERDICT_STYLE["fail"])
    text.append(", ")
    text.append(f"{ver['inconclusive']} inconclusive", style=_VERDICT_STYLE["inconclusive"])
    text.append(", ")
    text.append(f"{ver['unchecked']} unchecked", style=_VERDICT_STYLE["unchecked"])
    text.append(f"; findings: {sev['error']} error(s), {sev['warning']} warning(s), "
                f"{sev['note']} note(s)")
    console.print(text)
    if s["unchecked_traces"]:
        console.print(Text(f"Nothing was checked in {s['unchecked_traces']} trace(s) (reasons "
                           "above): exit status 3, not a pass", style="bold magenta"))
