"""The HTML report: self-contained, anchored, and rendering without JS errors in Chromium."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.test_audit_summary import SPEC, sample
from vfio_migcheck.audit.html import render_html
from vfio_migcheck.audit.summary import build_audit

PAIRS = [("hostA/save.strace", "hostB/restore.strace")]


def _report() -> str:
    return render_html(build_audit(sample(), SPEC, pairs=PAIRS), SPEC)


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.links: list[str] = []
        self.external: list[str] = []
        self.body: dict[str, str | None] = {}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.append(a["id"])
        if tag == "body":
            self.body = a
        for key in ("src", "href"):
            value = a.get(key) or ""
            if value.startswith("#"):
                self.links.append(value[1:])
            elif value:
                self.external.append(value)


def test_report_is_self_contained_and_every_link_resolves():
    page = _report()
    parsed = _Collect()
    parsed.feed(page)
    assert parsed.external == []                       # no CDN, no file, no network
    assert not re.search(r"@import|url\((?!#)", page)
    assert len(parsed.ids) == len(set(parsed.ids))     # anchors are unique
    missing = [link for link in parsed.links if link not in parsed.ids]
    assert missing == []
    assert parsed.body["data-expected-findings"] == "4"


def test_findings_show_their_capture_line():
    page = _report()
    assert 'id="c0-f0"' in page and 'href="#c0-0-L25"' in page
    assert 'id="c0-0-L25"' in page and "read(7, ...) = 0" in page
    assert "A001" in page and "(line text unavailable)" in page    # restore.strace cited, no text


def test_fsm_picture_marks_exercised_and_missing_arcs():
    page = _report()
    assert page.count('class="arc hit"') == 10 and page.count('class="arc miss"') == 5
    assert 'data-arc="RUNNING-&gt;PRE_COPY" data-count="1"' in page


# --- in a real browser ---------------------------------------------------------------------

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]


def _find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.fixture(scope="session")
def chromium() -> str:
    found = _find_chromium()
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip("chromium is not installed and cannot be installed here "
                    "(needs root and apt-get: apt-get install -y chromium)")
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "timeout": 900}
    try:
        if subprocess.run(["apt-get", "install", "-y", "chromium"], **quiet).returncode:
            # a fresh machine has no package lists yet
            subprocess.run(["apt-get", "update"], check=True, **quiet)
            subprocess.run(["apt-get", "install", "-y", "chromium"], check=True, **quiet)
    except (subprocess.SubprocessError, OSError) as exc:
        pytest.skip(f"chromium is not installed and 'apt-get install -y chromium' failed: {exc}")
    found = _find_chromium()
    if not found:
        pytest.skip("apt-get installed chromium but no chromium binary is on PATH")
    return found


def dump_dom(chromium: str, page: Path, profile: Path) -> str:
    """The DOM after the page's scripts ran, as Chromium serialises it."""
    done = subprocess.run(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom",
         page.resolve().as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def body_attributes(dom: str) -> dict[str, str]:
    m = re.search(r"<body([^>]*)>", dom)
    assert m, "no <body> in the dumped DOM"
    return dict(re.findall(r'([\w-]+)="([^"]*)"', m.group(1)))


def test_report_renders_in_chromium_without_js_errors(chromium, tmp_path):
    page = tmp_path / "report.html"
    page.write_text(_report(), encoding="utf-8")
    dom = dump_dom(chromium, page, tmp_path / "profile")
    body = body_attributes(dom)
    assert "data-js-errors" not in body, body.get("data-js-error")
    assert body["data-rendered"] == "yes"
    assert body["data-consistent"] == "true"
    assert body["data-findings-drawn"] == "4" and body["data-captures-drawn"] == "4"
    assert "<title>vfio-migcheck audit: 4 captures ✓</title>" in dom
    # the numbers a reader sees
    assert re.search(r'<div class="value">10/15</div><div class="label">single arcs', dom)
    assert re.search(r'<div class="value">750.00 ms</div>', dom)


def _seg_widths(svg: str) -> dict[str, float]:
    return {state: float(w) for w, state in
            re.findall(r'<rect class="seg" x="[\d.]+" y="\d+" width="([\d.]+)" height="\d+" '
                       r'fill="#\w+" data-state="(\w+)"', svg)}


def test_timeline_shortens_long_quiet_stretches_but_keeps_true_durations():
    from tests.test_audit_builders import device, obs
    from vfio_migcheck.audit.svg_timeline import timeline_svg
    from vfio_migcheck.audit.timing import device_timing

    quiet = device(states=[obs(1, 0.0, "RUNNING"), obs(2, 100.0, "STOP")], last_ts=101.0)
    svg = timeline_svg(device_timing(quiet))
    widths = _seg_widths(svg)
    assert widths["STOP"] > 0.25 * (widths["STOP"] + widths["RUNNING"])   # linear: 1%
    assert 'class="break"' in svg and "RUNNING from line 1: 100.000 s" in svg

    even = device(states=[obs(1, 0.0, "RUNNING"), obs(2, 1.0, "STOP")], last_ts=3.0)
    svg = timeline_svg(device_timing(even))
    widths = _seg_widths(svg)
    assert 'class="break"' not in svg
    assert widths["STOP"] == pytest.approx(2 * widths["RUNNING"], rel=0.01)
    assert timeline_svg(device_timing(device(states=[obs(1, None, "RUNNING")]))) is None


def test_timeline_never_shortens_undetermined_stretches():
    from tests.test_audit_builders import device, obs
    from vfio_migcheck.audit.svg_timeline import timeline_svg
    from vfio_migcheck.audit.timing import device_timing

    dev = device(states=[obs(1, 0.0, "RUNNING"), obs(2, 1.0, "STOP", "RUNNING"),
                         obs(3, 100.0, "RUNNING")], last_ts=101.0)
    svg = timeline_svg(device_timing(dev))
    assert 'class="break"' not in svg and 'class="unknown"' in svg
    widths = [float(w) for w in re.findall(r'class="seg" x="[\d.]+" y="\d+" width="([\d.]+)"',
                                           svg)]
    assert len(widths) == 2 and sum(widths) < 0.03 * 900     # 2 s of 101 s, drawn linearly


def test_huge_capture_draws_a_bounded_number_of_findings(chromium, tmp_path, monkeypatch):
    from tests.test_audit_builders import device, finding, result
    from tests.test_audit_summary import _checked
    from vfio_migcheck.audit import html

    monkeypatch.setattr(html, "MAX_FINDINGS_SHOWN", 5)
    many = result("big.strace", devices=[device()],
                  findings=[finding(line=n, file="big.strace") for n in range(1, 13)])
    page = tmp_path / "big.html"
    page.write_text(html.render_html(build_audit([_checked(many)], SPEC), SPEC))
    body = body_attributes(dump_dom(chromium, page, tmp_path / "profile"))
    assert (body["data-findings-drawn"], body["data-findings-omitted"]) == ("5", "7")
    assert body["data-consistent"] == "true"


def test_stop_windows_listed_longest_first():
    page = _report()
    table = page[page.index("Stop windows, longest first"):]
    assert "750.00 ms" in table and "STOP_COPY → STOP" in table and "30–50" in table
