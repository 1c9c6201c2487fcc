"""The HTML report: one self-contained page (inline CSS, JS and SVG; nothing fetched).

Every number is rendered on the server side, so the page reads fine without JavaScript;
the small script only adds filtering and a self-check (the findings it counts in the page
must equal the totals embedded as JSON), whose outcome it records on ``<body>`` as
``data-rendered`` / ``data-consistent`` for the browser test.
"""

from __future__ import annotations

import json
from dataclasses import replace
from importlib import resources

from vfio_migcheck.audit.coverage import FlagCoverage
from vfio_migcheck.audit.html_parts import badge as _badge
from vfio_migcheck.audit.html_parts import (
    cap_link,
    collapsed_tail,
    common_folder,
    human_bytes,
    paged_table,
    short_path,
    swatch,
)
from vfio_migcheck.audit.html_parts import esc as _e
from vfio_migcheck.audit.html_volume import volume_section
from vfio_migcheck.audit.jsonout import totals_json
from vfio_migcheck.audit.summary import Audit, CaptureEntry, Tally
from vfio_migcheck.audit.svg_fsm import fsm_svg
from vfio_migcheck.audit.svg_timeline import (
    STATE_COLOURS,
    STOPPED_COLOUR,
    STOPPED_OPEN_COLOUR,
    UNDETERMINED_COLOUR,
    format_seconds,
    timeline_svg,
)
from vfio_migcheck.checker.results import SEVERITIES, DeviceResult, Finding
from vfio_migcheck.model.fsm import model_for
from vfio_migcheck.model.spec import Spec

__all__ = ["human_bytes", "render_html"]

MAX_FINDINGS_SHOWN = 500   # per capture; the rest are counted, and listed in the JSON
TALLY_ROWS_SHOWN = 12      # rows of a "findings by ..." table before the rest collapse
# The verdict colours (report.css holds the same values as --pass, --fail, ...).
VERDICT_COLOURS = {"pass": "#2e9d5b", "fail": "#c8463d", "inconclusive": "#d49a1e",
                   "unchecked": "#8a94a6", "unreadable": "#6b5b95"}


def _asset(name: str) -> str:
    return (resources.files("vfio_migcheck.audit") / "assets" / name).read_text("utf-8")


def render_html(audit: Audit, spec: Spec) -> str:
    t = audit.totals
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>vfio-migcheck audit: {t.captures} captures</title>",
        f"<style>{_asset('report.css')}</style></head>",
        f'<body data-rendered="no" data-expected-findings="{t.findings}">',
        '<header><h1>VFIO migration audit</h1>',
        f'<p class="sub">{t.captures} captures · {t.devices} devices · spec '
        f'<code>{_e(audit.spec)}</code>'
        + (f" · flags <code>{audit.flags:#x}</code>" if audit.flags is not None else "")
        + "</p></header>",
        '<nav><a href="#summary">Summary</a><a href="#captures">Captures</a>'
        '<a href="#coverage">Coverage</a><a href="#timing">Timing</a>'
        '<a href="#volume">Data</a><a href="#pairing">Pairing</a>'
        '<a href="#findings">Findings</a></nav><main>',
        _summary(audit),
        _captures_table(audit),
        _coverage(audit, spec),
        _timing(audit),
        volume_section(audit),
        _pairing(audit),
        _findings(audit),
        "</main>",
        '<script type="application/json" id="audit-totals">'
        + json.dumps(totals_json(t), sort_keys=True).replace("</", "<\\/")
        + "</script>",
        f"<script>{_asset('report.js')}</script>",
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


# --- summary -----------------------------------------------------------------------------


def _card(label: str, value: str, note: str = "", cls: str = "") -> str:
    return (f'<div class="card {cls}"><div class="value">{value}</div>'
            f'<div class="label">{_e(label)}</div>'
            + (f'<div class="note">{note}</div>' if note else "") + "</div>")


def _summary(audit: Audit) -> str:
    t = audit.totals
    v = t.verdicts
    arcs = sum(c.arcs_covered for c in audit.coverage.flag_sets)
    arcs_total = sum(len(c.arcs) for c in audit.coverage.flag_sets)
    reqs = sum(c.requests_covered for c in audit.coverage.flag_sets)
    reqs_total = sum(len(c.requests) for c in audit.coverage.flag_sets)
    vol = t.volume
    longest = t.stop_windows.max
    cards = [
        _card("captures", str(t.captures),
              f'{v["pass"]} pass · {v["fail"]} fail · {v["inconclusive"]} inconclusive'
              + (f' · {v["unchecked"]} unchecked' if v["unchecked"] else "")
              + (f' · {v["unreadable"]} unreadable' if v["unreadable"] else ""),
              "bad" if v["fail"] or v["unreadable"] else "good"),
        _card("findings", str(t.findings),
              " · ".join(f"{n} {s}" for s, n in t.by_severity.items()),
              "bad" if t.by_severity.get("error") else ""),
        *_coverage_cards(audit, arcs, arcs_total, reqs, reqs_total),
        _card("data read / written",
              f"{human_bytes(vol.bytes_precopy + vol.bytes_stopcopy + vol.bytes_unknown_phase)}"
              f" / {human_bytes(vol.bytes_written)}", f"{vol.sessions} sessions"),
        _card("longest stop window", format_seconds(longest) if longest is not None else "—",
              f"{len(t.stop_windows)} timed windows"),
    ]
    by = "".join(_tally_table(title, tallies, key) for title, tallies, key in (
        ("Findings by rule", _plain_keys(t.by_rule), "rule"),
        ("Findings by party", _plain_keys(t.by_party), "party"),
        ("Findings by device", _device_tallies(audit), "device"),
    ))
    return (f'<section id="summary"><h2>Summary</h2><div class="cards">{"".join(cards)}</div>'
            f"{_verdict_bar(v, t.captures)}"
            f'<div class="tallies">{by}</div></section>')


def _verdict_bar(verdicts: dict[str, int], captures: int) -> str:
    """The share of each capture verdict, with a legend naming every colour drawn."""
    total = max(captures, 1)
    bar = "".join(
        f'<div class="seg v-{k}" style="width:{100 * n / total:.2f}%" title="{n} {k}">'
        f'{n if n else ""}</div>' for k, n in verdicts.items() if n)
    legend = "".join(swatch(VERDICT_COLOURS.get(k, "#999"), k, n)
                     for k, n in verdicts.items() if n)
    return (f'<div class="verdictbar" role="img" aria-label="capture verdicts">{bar}</div>'
            f'<p class="legend verdict-legend">Captures by verdict: {legend}</p>')


def _coverage_cards(audit: Audit, arcs: int, arcs_total: int, reqs: int,
                    reqs_total: int) -> list[str]:
    """0/0 would read as "nothing exercised": when no device's flag set is known the
    coverage is unknown, and the cards say so and where the reason is."""
    unknown = len(audit.coverage.unknown_flags)
    if not audit.coverage.flag_sets and unknown:
        note = (f'{unknown} device(s) with an unknown flag set: <a href="#coverage">why</a>')
        return [_card("single arcs exercised", "unknown", note, "unknown"),
                _card("requests exercised", "unknown", note, "unknown")]
    extra = f" · {unknown} device(s) not counted" if unknown else ""
    return [_card("single arcs exercised", f"{arcs}/{arcs_total}",
                  _pct(arcs, arcs_total) + extra),
            _card("requests exercised", f"{reqs}/{reqs_total}", _pct(reqs, reqs_total) + extra)]


def _pct(a: int, b: int) -> str:
    return f"{100 * a / b:.0f}%" if b else "—"


TallyKey = tuple[str, str]      # (what is shown in code, what is shown under it, muted)


def _plain_keys(tallies: dict[str, Tally]) -> dict[TallyKey, Tally]:
    return {(k, ""): x for k, x in tallies.items()}


def _device_tallies(audit: Audit) -> dict[TallyKey, Tally]:
    """Findings per device *of a capture*: two captures' ``group0/dev0`` are two devices.
    Built from the captures in memory; the pairing findings sit under their own capture."""
    if not audit.captures:
        return _plain_keys(audit.totals.by_device)
    findings: list[Finding] = [f for e in audit.captures for f in _with_capture(e)]
    findings += audit.pairing.findings
    folder = _folder(audit)
    counts: dict[TallyKey, dict[str, int]] = {}
    for f in findings:
        key = (f.device or "-", short_path(f.file, folder))
        row = counts.setdefault(key, {s: 0 for s in SEVERITIES})
        row[f.severity] = row.get(f.severity, 0) + 1
    return {k: Tally(sum(v.values()), v) for k, v in counts.items()}


def _with_capture(entry: CaptureEntry) -> list[Finding]:
    """The capture's findings, each filed under the capture (not the -ff member file)."""
    return [f if f.file == entry.path else replace(f, file=entry.path)
            for f in entry.result.findings]


def _tally_table(title: str, tallies: dict[TallyKey, Tally], key: str) -> str:
    if not tallies:
        return f'<div class="tally"><h3>{_e(title)}</h3><p class="muted">none</p></div>'
    top = max(x.total for x in tallies.values())
    rows = []
    for (name, where), x in sorted(tallies.items(), key=lambda kv: (-kv[1].total, kv[0])):
        segs = "".join(
            f'<span class="sev-{s}" style="width:{100 * n / top:.1f}%"></span>'
            for s, n in x.by_severity.items() if n)
        detail = ", ".join(f"{n} {s}" for s, n in x.by_severity.items() if n)
        under = f'<div class="where">{_e(where)}</div>' if where else ""
        rows.append(f'<tr data-total="{x.total}"><td class="k"><code>{_e(name)}</code>{under}'
                    f'</td><td class="n">{x.total}</td><td class="bar" title="{_e(detail)}">'
                    f"{segs}</td></tr>")
    shown, more = collapsed_tail(rows, TALLY_ROWS_SHOWN, f"{key}s")
    return (f'<div class="tally" data-key="{key}" data-rows="{len(rows)}"><h3>{_e(title)}</h3>'
            f"<table>{shown}</table>{more}</div>")


# --- captures ----------------------------------------------------------------------------


def _captures_table(audit: Audit) -> str:
    folder = _folder(audit)
    rows = []
    for i, e in enumerate(audit.captures):
        r = e.result
        sev = {s: sum(1 for f in r.findings if f.severity == s) for s in ("error", "warning",
                                                                          "note")}
        read = sum(s.bytes_read for s in e.sessions)
        written = sum(s.bytes_written for s in e.sessions)
        windows = [w.duration for tm in e.timing for w in tm.stop_windows
                   if w.closed and w.duration is not None]
        rows.append(
            f'<tr data-verdict="{e.verdict}"><td>{cap_link(i, e.path, folder)}'
            + (f'<div class="err">{_e(r.error)}</div>' if r.error else "")
            + f'</td><td>{_e(r.format)}</td><td class="n">{len(r.devices)}</td>'
            f"<td>{_badge(e.verdict)}</td>"
            f'<td class="n e">{sev["error"] or ""}</td><td class="n w">{sev["warning"] or ""}'
            f'</td><td class="n">{sev["note"] or ""}</td>'
            f'<td class="n" data-sort="{max(windows) if windows else 0}">'
            f'{format_seconds(max(windows)) if windows else ""}</td>'
            f'<td class="n" data-sort="{read}">{human_bytes(read) if read else ""}</td>'
            f'<td class="n" data-sort="{written}">{human_bytes(written) if written else ""}'
            "</td></tr>"
        )
    where = (f'<p class="muted">Paths below are under <code>{_e(folder)}</code>.</p>'
             if folder else "")
    head = ["capture", "format", "devices", "verdict", "errors", "warnings", "notes",
            "longest stop", "read", "written"]
    return ('<section id="captures"><h2>Captures</h2>'
            f'{where}{paged_table("captures-table", head, rows, page_size=50)}</section>')


# --- coverage ----------------------------------------------------------------------------


def _coverage(audit: Audit, spec: Spec) -> str:
    blocks = []
    for cov in audit.coverage.flag_sets:
        model = model_for(spec, cov.flags)
        missing = "".join(f"<li><code>{_e(a)} → {_e(b)}</code></li>"
                          for a, b in cov.missing_arcs)
        blocks.append(
            f'<div class="flagset" data-flags="{cov.flags:#x}"><h3>Flags {_e(cov.flags_text)}'
            f' <span class="muted">· {cov.devices} device(s)</span></h3>'
            f'<div class="fsmwrap"><div>{fsm_svg(model, cov)}'
            '<p class="legend"><span class="lg hit"></span>exercised (width ∝ log uses)'
            '<span class="lg miss"></span>never exercised</p></div>'
            f'<div class="covside"><p class="big">{cov.arcs_covered}/{len(cov.arcs)} '
            f"single arcs</p><p>{cov.requests_covered}/{len(cov.requests)} requests "
            f"(from, to) · {len(cov.states_seen)}/{len(cov.states)} states entered</p>"
            + (f'<p class="muted">{cov.hidden_requests} requests not counted: the capture '
               "hides their source or target state.</p>" if cov.hidden_requests else "")
            + (f'<p class="muted">{cov.silent_devices} of {cov.devices} devices show no '
               "request with a known source and target.</p>" if cov.silent_devices else "")
            + (f"<h4>Arcs never exercised</h4><ul>{missing}</ul>" if missing
               else '<p class="good">every single arc was exercised</p>')
            + f"</div></div>{_request_matrix(cov)}</div>"
        )
    unknown = audit.coverage.unknown_flags
    if unknown:
        blocks.insert(0, _unknown_flags(audit, unknown))
    if not blocks:
        blocks.append('<p class="muted">No device with a known flag set.</p>')
    return f'<section id="coverage"><h2>FSM coverage</h2>{"".join(blocks)}</section>'


def _unknown_flags(audit: Audit, unknown: tuple[tuple[str, str], ...]) -> str:
    """Why some devices are not counted, said once, and which captures they are in."""
    per_capture: dict[str, list[str]] = {}
    for capture, device in unknown:
        per_capture.setdefault(capture, []).append(device)
    anchors = {e.path: i for i, e in enumerate(audit.captures)}
    folder = _folder(audit)
    rows = [
        f"<tr><td>{cap_link(anchors.get(capture), capture, folder)}</td>"
        f'<td class="n">{len(devices)}</td>'
        f"<td>{', '.join(f'<code>{_e(d)}</code>' for d in sorted(set(devices)))}</td></tr>"
        for capture, devices in sorted(per_capture.items())]
    head, scope = (("Coverage unknown.", "No device's migration flag set is")
                   if not audit.coverage.flag_sets else
                   (f"{len(unknown)} devices not counted.",
                    "Their migration flag sets are not"))
    table = paged_table("coverage-unknown", ["capture", "devices", "device names"], rows)
    return (
        f'<div class="unknown-flags"><p><b>{head}</b> {scope} '
        "in the captures, so which arcs exist, and which were exercised, cannot be "
        "counted (plain strace does not show the VFIO_DEVICE_FEATURE payload that reports "
        "it). A decoded capture (<code>vfio-migcheck capture</code>, eBPF), QEMU's "
        "<code>vfio_*</code> trace events, or <code>--flags</code> when every device shares "
        "one flag set would give it.</p>"
        f'<details class="affected"><summary>{len(per_capture)} captures, {len(unknown)} '
        f"devices not counted</summary>{table}</details></div>")


def _folder(audit: Audit) -> str:
    return common_folder([e.path for e in audit.captures])


def _request_matrix(cov: FlagCoverage) -> str:
    reqs = {(r.src, r.dst): r for r in cov.requests}
    head = "".join(f'<th class="rot"><span>{_e(s)}</span></th>' for s in cov.states)
    rows = []
    glyph = {"single": "1", "combination": "C", "refused": "✕"}
    for a in cov.states:
        cells = []
        for b in cov.states:
            if a == b:
                cells.append('<td class="diag"></td>')
                continue
            r = reqs[(a, b)]
            state = "hit" if r.count else "miss"
            tip = (f"SET {b} in {a}: model says {r.expected}; seen {r.count}× "
                   f"({r.succeeded} ok, {r.failed} failed)")
            cells.append(f'<td class="req {state} x-{r.expected}" title="{_e(tip)}">'
                         f'{glyph[r.expected]}<sub>{r.count or ""}</sub></td>')
        rows.append(f'<tr><th>{_e(a)}</th>{"".join(cells)}</tr>')
    return ('<details class="matrix"><summary>Requests (from row state, SET column state): '
            "1 = single arc, C = combination, ✕ = the model refuses; green = exercised"
            f'</summary><table class="reqs"><tr><th></th>{head}</tr>{"".join(rows)}</table>'
            "</details>")


# --- timing ------------------------------------------------------------------------------


def _timing(audit: Audit) -> str:
    folder = _folder(audit)
    legend = "".join(swatch(c, s) for s, c in STATE_COLOURS.items())
    legend += (swatch(UNDETERMINED_COLOUR, "undetermined")
               + swatch(STOPPED_COLOUR, "device stopped (row under the bar)")
               + swatch(STOPPED_OPEN_COLOUR, "still stopped at the capture's end"))
    rows = []
    for i, e in enumerate(audit.captures):
        for tm in e.timing:
            svg = timeline_svg(tm)
            if svg is None:
                continue
            per_state = " · ".join(f"{_e(s)} {format_seconds(x)}"
                                   for s, x in sorted(tm.time_in_state.items(),
                                                      key=lambda kv: -kv[1]))
            sc = ", ".join(format_seconds(x) for x in tm.stop_copy)
            rows.append(
                f'<div class="tl"><div class="tlhead">{cap_link(i, e.path, folder)} '
                f"<code>{_e(tm.device)}</code></div>{svg}<div class=\"tlnote\">{per_state}"
                + (f" · stop-copy {sc}" if sc else "") + "</div></div>"
            )
    totals = audit.totals
    state_rows = "".join(f"<tr><td><code>{_e(s)}</code></td><td class=\"n\">"
                         f"{format_seconds(x)}</td></tr>"
                         for s, x in totals.time_in_state.items())
    shown, more = rows[:MAX_TIMELINES_SHOWN], rows[MAX_TIMELINES_SHOWN:]
    body = "".join(shown) or '<p class="muted">No capture carries timestamps (strace -tt/-ttt).'
    body += "</p>" if not rows else ""
    if more:
        body += (f'<details class="more-timelines"><summary>{len(more)} more device '
                 f'timelines</summary>{"".join(more)}</details>')
    return (f'<section id="timing"><h2>Timing</h2><p class="legend timeline-legend">{legend}'
            "</p>"
            f"{body}{_stop_window_table(audit)}<h3>Time in state, all devices</h3>"
            f'<table class="grid small">{state_rows}</table></section>')


MAX_WINDOWS_LISTED = 50
MAX_TIMELINES_SHOWN = 30   # device timelines drawn open; the rest are inside a <details>


def _stop_window_table(audit: Audit) -> str:
    """The closed stop windows, longest first: where each migration's downtime went."""
    folder = _folder(audit)
    windows = [(w.duration, i, e.path, tm.device, w)
               for i, e in enumerate(audit.captures) for tm in e.timing
               for w in tm.stop_windows if w.closed and w.duration is not None]
    if not windows:
        return ""
    windows.sort(key=lambda x: (-x[0], x[1], x[3], x[4].start_line))
    rows = "".join(
        f'<tr><td class="n">{format_seconds(d)}</td><td>{cap_link(i, path, folder)}</td>'
        f"<td><code>{_e(dev)}</code></td><td>{_e(' → '.join(w.states))}</td>"
        f'<td class="n">{w.start_line}–{w.end_line}</td></tr>'
        for d, i, path, dev, w in windows[:MAX_WINDOWS_LISTED])
    more = (f'<p class="muted">{len(windows) - MAX_WINDOWS_LISTED} shorter windows not listed.'
            "</p>" if len(windows) > MAX_WINDOWS_LISTED else "")
    return ("<h3>Stop windows, longest first</h3>"
            '<table class="grid sortable"><thead><tr><th>device stopped</th><th>capture</th>'
            "<th>device</th><th>states passed through</th><th>lines</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>{more}")


# --- pairing -----------------------------------------------------------------------------


def _pairing(audit: Audit) -> str:
    p = audit.pairing
    rows = "".join(
        f'<tr class="{"ok" if x.matches else "bad"}"><td>{_e(x.how)}</td>'
        f"<td>{_e(x.source.file)} <code>{_e(x.source.device)}</code></td>"
        f'<td class="n">{x.source.bytes}</td>'
        f"<td>{_e(x.destination.file)} <code>{_e(x.destination.device)}</code></td>"
        f'<td class="n">{x.destination.bytes}</td>'
        f'<td>{"match" if x.matches else "A001 mismatch"}</td></tr>' for x in p.pairs)
    probs = "".join(f"<li>{_e(m)}</li>" for m in p.problems)
    body = ('<table class="grid"><thead><tr><th>paired</th><th>source</th><th>bytes read</th>'
            f"<th>destination</th><th>bytes written</th><th></th></tr></thead>{rows}</table>"
            if rows else '<p class="muted">No source/destination pair found (use --pair).</p>')
    return (f'<section id="pairing"><h2>Source ↔ destination</h2>{body}'
            + (f'<ul class="err">{probs}</ul>' if probs else "") + "</section>")


# --- findings ----------------------------------------------------------------------------


def _findings(audit: Audit) -> str:
    filters = "".join(
        f'<label><input type="checkbox" data-filter="{k}" value="{_e(v)}" checked> {_e(v)}'
        "</label>" for k, values in (("severity", ("error", "warning", "note")),
                                     ("party", ("driver", "vmm", "unknown")))
        for v in values)
    blocks = [_capture_block(i, e) for i, e in enumerate(audit.captures)]
    if audit.pairing.findings:
        items = "".join(
            f'<div class="finding sev-error" data-severity="error" data-party="unknown">'
            f'<div class="fh"><span class="rule">{_e(f.rule)}</span> {_e(f.message)}</div></div>'
            for f in audit.pairing.findings)
        blocks.append(f'<div class="capture" id="pairing-findings"><h3>Pairing</h3>{items}</div>')
    return (f'<section id="findings"><h2>Captures and findings</h2><div class="filters">'
            f'{filters}</div>{"".join(blocks)}</section>')


MAX_FAILED_RULES = 6    # rules named in a failed device's line; the findings list has all


def _device_item(d: DeviceResult, findings: tuple[Finding, ...]) -> str:
    """A device's line: what failed (its error findings) first, then what is undecided."""
    head = (f"<code>{_e(d.name)}</code> flags {_e(d.flags)} · {_badge(d.verdict)} · final "
            f"{_e(' | '.join(d.final_states) or '?')}")
    parts = [head]
    errors = [f for f in findings if f.severity == "error" and f.device == d.name]
    if d.verdict == "fail" or errors:
        lines: dict[str, list[int]] = {}
        for f in errors:
            lines.setdefault(f.rule, []).append(f.line)
        named = [f"{_e(rule)} (line{'s' if len(ns) > 1 else ''} "
                 f"{', '.join(str(n) for n in ns[:3])}{'…' if len(ns) > 3 else ''})"
                 for rule, ns in list(lines.items())[:MAX_FAILED_RULES]]
        more = len(lines) - MAX_FAILED_RULES
        text = ("; ".join(named) + (f"; {more} more rules" if more > 0 else "")
                if named else "the checker's verdict (see the findings below)")
        parts.append(f'<div class="failed"><b>failed:</b> {len(errors)} error'
                     f"{'s' if len(errors) != 1 else ''}: {text}</div>")
    if d.inconclusive_reasons:
        label = "also undecided" if len(parts) > 1 else "undecided"
        text = "; ".join(d.inconclusive_reasons)
        for lead in ("undecided, ", "undecided: "):      # the label says it already
            if text.lower().startswith(lead):
                text = text[len(lead):]
        parts.append(f'<div class="undecided muted"><b>{label}:</b> {_e(text)}</div>')
    return f'<li data-verdict="{_e(d.verdict)}">{"".join(parts)}</li>'


def _capture_block(i: int, e: CaptureEntry) -> str:
    r = e.result
    devices = "".join(_device_item(d, r.findings) for d in r.devices)
    file_index = {f: n for n, f in enumerate(e.files)}
    anchored: set[str] = set()
    items = []
    shown = r.findings[:MAX_FINDINGS_SHOWN]
    omitted = len(r.findings) - len(shown)
    for j, f in enumerate(shown):
        line_id = f"c{i}-{file_index.get(f.file, 0)}-L{f.line}"
        text = e.lines.get((f.file, f.line))
        id_attr = "" if line_id in anchored else f' id="{line_id}"'
        anchored.add(line_id)
        related = "".join(
            f'<pre class="line rel"><span class="ln">{n}</span>'
            f"{_e(e.lines.get((f.file, n), ''))}</pre>" for n in f.related_lines)
        extra = "".join(f'<div class="kv"><b>{k}</b> {_e(v)}</div>' for k, v in (
            ("observed", f.observed), ("allowed", f.allowed), ("continuing", f.continuing),
            ("uAPI", f.cite)) if v)
        items.append(
            f'<div class="finding sev-{_e(f.severity)}" id="c{i}-f{j}" '
            f'data-severity="{_e(f.severity)}" data-party="{_e(f.party)}">'
            f'<div class="fh"><span class="rule">{_e(f.rule)}</span>'
            f'<span class="sev">{_e(f.severity)}</span><span class="party">{_e(f.party)}</span>'
            f'<a class="loc" href="#{line_id}">{_e(f.file)}:{f.line}</a>'
            f"<code>{_e(f.device)}</code></div><div class=\"msg\">{_e(f.message)}</div>"
            f'<pre class="line"{id_attr}><span class="ln">{f.line}</span>'
            f"{_e(text) if text is not None else '<i>(line text unavailable)</i>'}</pre>"
            f"{related}{extra}</div>"
        )
    body = "".join(items) or ('<p class="muted">No finding.</p>' if r.error is None else "")
    if omitted:
        body += (f'<p class="muted">… and {omitted} more findings in this capture, not drawn '
                 "here to keep the page light: see the JSON summary or `check`.</p>")
    return (f'<div class="capture" id="cap-{i}" data-verdict="{e.verdict}" '
            f'data-omitted="{omitted}"><h3>{_badge(e.verdict)} {_e(e.path)}</h3>'
            + (f'<p class="err">{_e(r.error)}</p>' if r.error else "")
            + (f"<ul class=\"devices\">{devices}</ul>" if devices else "")
            + body + "</div>")
