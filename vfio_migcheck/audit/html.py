"""The HTML report: one self-contained page (inline CSS, JS and SVG; nothing fetched).

Every number is rendered on the server side, so the page reads fine without JavaScript;
the small script only adds filtering and a self-check (the findings it counts in the page
must equal the totals embedded as JSON), whose outcome it records on ``<body>`` as
``data-rendered`` / ``data-consistent`` for the browser test.
"""

from __future__ import annotations

import json
from html import escape
from importlib import resources

from vfio_migcheck.audit.coverage import FlagCoverage
from vfio_migcheck.audit.jsonout import totals_json
from vfio_migcheck.audit.summary import Audit, CaptureEntry, Tally
from vfio_migcheck.audit.svg_fsm import fsm_svg
from vfio_migcheck.audit.svg_timeline import STATE_COLOURS, format_seconds, timeline_svg
from vfio_migcheck.model.fsm import model_for
from vfio_migcheck.model.spec import Spec

MAX_FINDINGS_SHOWN = 500   # per capture; the rest are counted, and listed in the JSON


def _asset(name: str) -> str:
    return (resources.files("vfio_migcheck.audit") / "assets" / name).read_text("utf-8")


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def human_bytes(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        n /= 1024
        if n < 1024:
            return f"{n:.1f} {unit}"
    return f"{n:.1f} PiB"


def _badge(verdict: str) -> str:
    return f'<span class="badge v-{_e(verdict)}">{_e(verdict)}</span>'


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
        _volume(audit),
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
        _card("single arcs exercised", f"{arcs}/{arcs_total}", _pct(arcs, arcs_total)),
        _card("requests exercised", f"{reqs}/{reqs_total}", _pct(reqs, reqs_total)),
        _card("data read / written",
              f"{human_bytes(vol.bytes_precopy + vol.bytes_stopcopy + vol.bytes_unknown_phase)}"
              f" / {human_bytes(vol.bytes_written)}", f"{vol.sessions} sessions"),
        _card("longest stop window", format_seconds(longest) if longest is not None else "—",
              f"{len(t.stop_windows)} timed windows"),
    ]
    total = max(t.captures, 1)
    bar = "".join(
        f'<div class="seg v-{k}" style="width:{100 * n / total:.2f}%" title="{n} {k}">'
        f'{n if n else ""}</div>' for k, n in v.items() if n)
    by = "".join(_tally_table(title, tallies, key) for title, tallies, key in (
        ("Findings by rule", t.by_rule, "rule"),
        ("Findings by party", t.by_party, "party"),
        ("Findings by device", t.by_device, "device"),
    ))
    return (f'<section id="summary"><h2>Summary</h2><div class="cards">{"".join(cards)}</div>'
            f'<div class="verdictbar">{bar}</div><div class="tallies">{by}</div></section>')


def _pct(a: int, b: int) -> str:
    return f"{100 * a / b:.0f}%" if b else "—"


def _tally_table(title: str, tallies: dict[str, Tally], key: str) -> str:
    if not tallies:
        return f'<div class="tally"><h3>{_e(title)}</h3><p class="muted">none</p></div>'
    top = max(x.total for x in tallies.values())
    rows = []
    for name, x in sorted(tallies.items(), key=lambda kv: (-kv[1].total, kv[0])):
        segs = "".join(
            f'<span class="sev-{s}" style="width:{100 * n / top:.1f}%"></span>'
            for s, n in x.by_severity.items() if n)
        detail = ", ".join(f"{n} {s}" for s, n in x.by_severity.items() if n)
        rows.append(f'<tr><td class="k"><code>{_e(name)}</code></td><td class="n">{x.total}'
                    f'</td><td class="bar" title="{_e(detail)}">{segs}</td></tr>')
    return (f'<div class="tally" data-key="{key}"><h3>{_e(title)}</h3><table>{"".join(rows)}'
            "</table></div>")


# --- captures ----------------------------------------------------------------------------


def _captures_table(audit: Audit) -> str:
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
            f'<tr data-verdict="{e.verdict}"><td><a href="#cap-{i}">{_e(e.path)}</a>'
            + (f'<div class="err">{_e(r.error)}</div>' if r.error else "")
            + f'</td><td>{_e(r.format)}</td><td class="n">{len(r.devices)}</td>'
            f"<td>{_badge(e.verdict)}</td>"
            f'<td class="n e">{sev["error"] or ""}</td><td class="n w">{sev["warning"] or ""}'
            f'</td><td class="n">{sev["note"] or ""}</td>'
            f'<td class="n">{format_seconds(max(windows)) if windows else ""}</td>'
            f'<td class="n">{human_bytes(read) if read else ""}</td>'
            f'<td class="n">{human_bytes(written) if written else ""}</td></tr>'
        )
    return ('<section id="captures"><h2>Captures</h2><table class="grid sortable"><thead><tr>'
            "<th>capture</th><th>format</th><th>devices</th><th>verdict</th><th>errors</th>"
            "<th>warnings</th><th>notes</th><th>longest stop</th><th>read</th>"
            f'<th>written</th></tr></thead><tbody>{"".join(rows)}</tbody></table></section>')


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
               "hides their source or target state (plain strace cannot decode VFIO ioctl "
               "payloads; a QEMU trace or a canonical trace shows them)</p>"
               if cov.hidden_requests else "")
            + (f'<p class="muted">{cov.silent_devices} of {cov.devices} devices show no '
               "request whose source and target the capture determines (typical of plain "
               "strace captures, which never show the state a SET asks for)</p>"
               if cov.silent_devices else "")
            + (f"<h4>Arcs never exercised</h4><ul>{missing}</ul>" if missing
               else '<p class="good">every single arc was exercised</p>')
            + f"</div></div>{_request_matrix(cov)}</div>"
        )
    unknown = audit.coverage.unknown_flags
    if unknown:
        blocks.append('<p class="muted">Not counted (flag set unknown; pass --flags): '
                      + ", ".join(f"{_e(d)} in {_e(c)}" for c, d in unknown) + "</p>")
    if not blocks:
        blocks.append('<p class="muted">No device with a known flag set.</p>')
    return f'<section id="coverage"><h2>FSM coverage</h2>{"".join(blocks)}</section>'


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
    legend = "".join(f'<span class="lg" style="background:{c}"></span>{_e(s)}'
                     for s, c in STATE_COLOURS.items())
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
                f'<div class="tl"><div class="tlhead"><a href="#cap-{i}">{_e(e.path)}</a> '
                f"<code>{_e(tm.device)}</code></div>{svg}<div class=\"tlnote\">{per_state}"
                + (f" · stop-copy {sc}" if sc else "") + "</div></div>"
            )
    totals = audit.totals
    state_rows = "".join(f"<tr><td><code>{_e(s)}</code></td><td class=\"n\">"
                         f"{format_seconds(x)}</td></tr>"
                         for s, x in totals.time_in_state.items())
    body = "".join(rows) or '<p class="muted">No capture carries timestamps (strace -tt/-ttt).'
    body += "</p>" if not rows else ""
    return (f'<section id="timing"><h2>Timing</h2><p class="legend">{legend}'
            '<span class="lg unknown"></span>undetermined<span class="lg stop"></span>'
            "device stopped</p>"
            f"{body}{_stop_window_table(audit)}<h3>Time in state, all devices</h3>"
            f'<table class="grid small">{state_rows}</table></section>')


MAX_WINDOWS_LISTED = 50


def _stop_window_table(audit: Audit) -> str:
    """The closed stop windows, longest first: where each migration's downtime went."""
    windows = [(w.duration, i, e.path, tm.device, w)
               for i, e in enumerate(audit.captures) for tm in e.timing
               for w in tm.stop_windows if w.closed and w.duration is not None]
    if not windows:
        return ""
    windows.sort(key=lambda x: (-x[0], x[1], x[3], x[4].start_line))
    rows = "".join(
        f'<tr><td class="n">{format_seconds(d)}</td><td><a href="#cap-{i}">{_e(path)}</a></td>'
        f"<td><code>{_e(dev)}</code></td><td>{_e(' → '.join(w.states))}</td>"
        f'<td class="n">{w.start_line}–{w.end_line}</td></tr>'
        for d, i, path, dev, w in windows[:MAX_WINDOWS_LISTED])
    more = (f'<p class="muted">{len(windows) - MAX_WINDOWS_LISTED} shorter windows not listed.'
            "</p>" if len(windows) > MAX_WINDOWS_LISTED else "")
    return ("<h3>Stop windows, longest first</h3>"
            '<table class="grid sortable"><thead><tr><th>device stopped</th><th>capture</th>'
            "<th>device</th><th>states passed through</th><th>lines</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>{more}")


# --- volume ------------------------------------------------------------------------------


def _volume(audit: Audit) -> str:
    rows = []
    for i, e in enumerate(audit.captures):
        for s in e.sessions:
            mean = f"{s.read_mean:.0f}" if s.read_mean is not None else ""
            rows.append(
                f'<tr><td><a href="#cap-{i}">{_e(e.path)}</a></td><td><code>{_e(s.device)}'
                f'</code></td><td>{_e(s.kind)}</td><td class="n">{s.opened_line or ""}</td>'
                f'<td class="n">{s.bytes_precopy}</td><td class="n">{s.bytes_stopcopy}</td>'
                f'<td class="n">{s.bytes_unknown_phase or ""}</td>'
                f'<td class="n">{s.bytes_written}</td><td class="n">{s.reads}</td>'
                f'<td class="n">{s.read_min if s.read_min is not None else ""}</td>'
                f'<td class="n">{mean}</td>'
                f'<td class="n">{s.read_max if s.read_max is not None else ""}</td></tr>'
            )
    hist = audit.totals.volume.read_size_histogram
    top = max(hist.values()) if hist and max(hist.values()) else 1
    bars = "".join(
        f'<div class="hcol" title="{n} reads of {_e(k)} bytes"><div class="hbar" '
        f'style="height:{100 * n / top:.1f}%"></div><div class="hn">{n}</div>'
        f'<div class="hl">{_e(k)}</div></div>' for k, n in hist.items())
    table = ('<table class="grid sortable"><thead><tr><th>capture</th><th>device</th>'
             "<th>session</th><th>opened at line</th><th>read in PRE_COPY</th>"
             "<th>read in STOP_COPY</th><th>read, phase hidden</th><th>written (RESUMING)</th>"
             "<th>reads</th>"
             "<th>min read</th><th>mean read</th><th>max read</th></tr></thead>"
             f'<tbody>{"".join(rows)}</tbody></table>') if rows else (
        '<p class="muted">No data session.</p>')
    return (f'<section id="volume"><h2>Data volume</h2>{table}<h3>Read sizes (bytes)</h3>'
            f'<div class="hist">{bars}</div></section>')


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


def _capture_block(i: int, e: CaptureEntry) -> str:
    r = e.result
    devices = "".join(
        f"<li><code>{_e(d.name)}</code> flags {_e(d.flags)} · {_badge(d.verdict)} · final "
        f"{_e(' | '.join(d.final_states) or '?')}"
        + (f' <span class="muted">({_e("; ".join(d.inconclusive_reasons))})</span>'
           if d.inconclusive_reasons else "") + "</li>"
        for d in r.devices)
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
