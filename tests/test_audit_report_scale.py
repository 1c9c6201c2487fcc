"""The HTML report at scale: read through an HTML parser, as a reader would see the page.

Plain-strace coverage said once; the data table grouped, sorted and paged; legends and
distinguishable colours; compact timelines; devices keyed by capture; a failed device's
failure before what is undecided; and the page in Chromium with no script error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.test_audit_builders import device, finding, obs, result, saving
from tests.test_audit_html import body_attributes, chromium, dump_dom  # noqa: F401 - fixture
from tests.test_audit_summary import SPEC, _checked
from vfio_migcheck.audit import html as report
from vfio_migcheck.audit.html_parts import PAGE_SIZE, common_folder
from vfio_migcheck.audit.summary import build_audit
from vfio_migcheck.audit.svg_timeline import (
    BAR_H,
    STATE_COLOURS,
    STOPPED_COLOUR,
    STOPPED_OPEN_COLOUR,
    UNDETERMINED_COLOUR,
    timeline_svg,
)
from vfio_migcheck.audit.timing import device_timing

VOID = {"meta", "br", "input", "img", "link", "hr", "col", "source", "wbr"}


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    content: list[Node | str] = field(default_factory=list)    # in document order

    @property
    def children(self) -> list[Node]:
        return [c for c in self.content if isinstance(c, Node)]

    @property
    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text for c in self.content)

    def classes(self) -> set[str]:
        return set((self.attrs.get("class") or "").split())

    def walk(self):
        yield self
        for c in self.children:
            yield from c.walk()

    def find_all(self, tag: str | None = None, cls: str | None = None, **attrs: str):
        return [n for n in self.walk()
                if (tag is None or n.tag == tag) and (cls is None or cls in n.classes())
                and all(n.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items())]

    def find(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> Node:
        found = self.find_all(tag, cls, **attrs)
        assert found, f"no <{tag} class={cls} {attrs}>"
        return found[0]


class _Tree(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {})
        self.stack = [self.root]

    def handle_starttag(self, tag, attrs):
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].content.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag, attrs):
        self.stack[-1].content.append(Node(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data):
        self.stack[-1].content.append(data)


def parse(page: str) -> Node:
    tree = _Tree()
    tree.feed(page)
    tree.close()
    return tree.root


def render(results, flags=None) -> tuple[str, Node]:
    audit = build_audit([_checked(r) for r in results], SPEC, flags)
    page = report.render_html(audit, SPEC)
    return page, parse(page)


def plain_strace(n: int) -> list:
    """Captures as plain strace leaves them: the devices' flag sets are unknown."""
    return [result(f"runs/host{i}/save.strace",
                   devices=[device("group0/dev0", flags="?", verdict="inconclusive")])
            for i in range(n)]


# --- coverage on plain strace -----------------------------------------------------------


def test_unknown_coverage_is_explained_once_and_captures_listed_collapsed():
    page, root = render(plain_strace(30))
    coverage = root.find("section", id="coverage")
    notes = coverage.find_all("div", cls="unknown-flags")
    assert len(notes) == 1
    text = " ".join(notes[0].find("p").text.split())
    assert "Coverage unknown" in text and "--flags" in text and "QEMU" in text
    assert "decoded capture" in text
    assert "Not counted" not in page
    details = notes[0].find("details")
    rows = details.find("tbody").find_all("tr")
    assert len(rows) == 30                                   # every affected capture, once
    assert "30 captures, 30 devices" in details.find("summary").text
    # the cards do not claim 0/0 exercised
    cards = {c.find(cls="label").text: c.find(cls="value").text
             for c in root.find_all("div", cls="card")}
    assert cards["single arcs exercised"] == "unknown"
    assert cards["requests exercised"] == "unknown"


def test_partly_known_coverage_counts_and_says_how_many_devices_are_left_out():
    known = result("k.vmc", devices=[device("d", flags="0x7")])
    _, root = render([known, *plain_strace(2)])
    cards = {c.find(cls="label").text: c for c in root.find_all("div", cls="card")}
    arcs = cards["single arcs exercised"]
    assert re.fullmatch(r"\d+/15", arcs.find(cls="value").text)
    assert "2 device(s) not counted" in arcs.find(cls="note").text
    note = root.find(cls="unknown-flags").text
    assert "2 devices not counted." in note and "Coverage unknown" not in note


# --- data volume --------------------------------------------------------------------------


def _volume_results():
    moving = [result(f"v/c{i:03}.strace", devices=[device(
        "dev", sessions=[saving(fd=7, stop=100 + 10 * i, reads=(100 + 10 * i, 0)),
                         saving(fd=9, opened_line=40, stop=5, reads=(5,))])])
        for i in range(40)]
    silent = replace(saving(), kind="unknown")
    idle = result("v/idle.strace", devices=[device("dev", sessions=[silent] * 120)])
    return [*moving, idle]


def test_volume_groups_sessions_sorts_by_bytes_and_pages():
    _, root = render(_volume_results())
    section = root.find("section", id="volume")
    table = section.find("table", id="volume-moved")
    rows = table.find("tbody").find_all("tr")
    assert len(rows) == 40                               # 80 sessions, one row per device
    moved = [int(r.attrs["data-bytes"]) for r in rows]
    assert moved == sorted(moved, reverse=True) and moved[0] == 100 + 390 + 5
    assert {"paged", "sortable"} <= table.classes()
    assert table.attrs["data-page-size"] == str(PAGE_SIZE)
    assert section.find("div", cls="pager").attrs["data-for"] == "volume-moved"
    sessions = [r.find_all("td")[3].text for r in rows]
    assert set(sessions) == {"2"}
    # the idle sessions: one sentence, detail collapsed and added up per device
    idle = section.find("details", cls="empty-sessions")
    assert "120 sessions in 1 captures moved no data (120 unknown)" in idle.find("summary").text
    assert len(idle.find("tbody").find_all("tr")) == 1


def test_small_tables_are_not_paged():
    _, root = render(_volume_results()[:3])
    table = root.find("table", id="volume-moved")
    assert "paged" not in table.classes() and not root.find_all("div", cls="pager")


# --- legends and colours ----------------------------------------------------------------


def _contrast(a: str, b: str) -> float:
    def lum(colour: str) -> float:
        rgb = [int(colour.lstrip("#")[i:i + 2], 16) / 255 for i in (0, 2, 4)]
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    hi, lo = sorted((lum(a), lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_verdict_bar_has_a_legend_with_every_drawn_colour():
    fail = result("f.strace", devices=[device(verdict="fail")], findings=[finding()])
    _, root = render([fail, *plain_strace(3)])
    summary = root.find("section", id="summary")
    drawn = [s.attrs["class"].split()[1][2:] for s in summary.find(cls="verdictbar").children]
    legend = summary.find("p", cls="verdict-legend").find_all("span", cls="lgitem")
    assert [" ".join(item.text.split()) for item in legend] == ["fail 1", "inconclusive 3"]
    assert drawn == ["fail", "inconclusive"]
    css = Path(report.__file__).with_name("assets").joinpath("report.css").read_text()
    for verdict, var in (("pass", "pass"), ("fail", "fail"), ("inconclusive", "inc"),
                         ("unreadable", "unr"), ("unchecked", "unc")):
        assert f"--{var}: {report.VERDICT_COLOURS[verdict]}" in css
        assert f".v-{verdict} {{ background: var(--{var}); }}" in css


def test_error_and_device_stopped_colours_are_told_apart():
    assert _contrast(STATE_COLOURS["ERROR"], STOPPED_COLOUR) >= 3.0       # was 1.06
    for colour in (STOPPED_COLOUR, STOPPED_OPEN_COLOUR):
        assert _contrast(colour, "#fafbfc") >= 3.0                       # the SVG background
    assert STOPPED_COLOUR not in STATE_COLOURS.values()
    _, root = render([result("a.strace", devices=[device()])])
    legend = root.find("p", cls="timeline-legend").text
    assert "ERROR" in legend and "device stopped" in legend


def _vertical_cover(svg: Node) -> float:
    """The share of the picture's height that something is drawn in."""
    height = float(svg.attrs["viewbox"].split()[3])
    spans = []
    for n in svg.walk():
        if n.tag == "rect":
            y, h = float(n.attrs["y"]), float(n.attrs["height"])
            spans.append((y, y + h))
        elif n.tag == "text":
            spans.append((float(n.attrs["y"]) - 11, float(n.attrs["y"]) + 2))
    covered, end = 0.0, 0.0
    for a, b in sorted(spans):
        a, b = max(a, end), min(b, height)
        if b > a:
            covered += b - a
            end = b
    return covered / height


@pytest.mark.parametrize("states", [
    [obs(1, 0.0, "RUNNING"), obs(2, 1.0, "PRE_COPY")],                      # no stop window
    [obs(1, 0.0, "RUNNING"), obs(2, 1.0, "STOP"), obs(3, 2.0, "RUNNING")],  # one window
])
def test_timelines_leave_no_blank_band(states):
    svg = parse(timeline_svg(device_timing(device(states=states, last_ts=3.0)))).find("svg")
    assert _vertical_cover(svg) >= 0.8          # the old layout drew in 50-60% of it
    height = float(svg.attrs["viewbox"].split()[3])
    assert BAR_H / height >= 0.45


def test_undetermined_colour_is_not_a_state_colour():
    assert UNDETERMINED_COLOUR not in STATE_COLOURS.values()


# --- findings by device, failed before undecided -----------------------------------------


def test_findings_by_device_are_keyed_by_capture():
    a = result("x/a.strace", devices=[device("group0/dev0", verdict="fail")],
               findings=[finding(file="x/a.strace", line=n, dev="group0/dev0")
                         for n in range(3)])
    b = result("x/b.strace", devices=[device("group0/dev0", verdict="fail")],
               findings=[finding(file="x/b.strace", line=n, dev="group0/dev0")
                         for n in range(2)])
    _, root = render([a, b])
    tally = root.find("div", cls="tally", data_key="device")
    rows = tally.find_all("tr")
    assert [(r.find("code").text, r.find(cls="where").text, r.attrs["data-total"])
            for r in rows] == [("group0/dev0", "a.strace", "3"), ("group0/dev0", "b.strace", "2")]
    body = root.find("body")
    assert sum(int(r.attrs["data-total"]) for r in rows) == int(
        body.attrs["data-expected-findings"])


def test_long_tallies_collapse_their_tail():
    many = [result(f"m/{i:02}.strace", devices=[device("d", verdict="fail")],
                   findings=[finding(file=f"m/{i:02}.strace", dev="d")]) for i in range(20)]
    _, root = render(many)
    tally = root.find("div", cls="tally", data_key="device")
    assert tally.attrs["data-rows"] == "20"
    shown = tally.children[1]          # the table after the heading
    assert shown.tag == "table" and len(shown.find_all("tr")) == report.TALLY_ROWS_SHOWN
    more = tally.find("details", cls="more")
    assert "8 more devices" in more.find("summary").text


def test_failed_device_shows_what_failed_before_what_is_undecided():
    dev = replace(device("dev0", verdict="fail"),
                  inconclusive_reasons=("undecided, the ioctl payloads are hidden",))
    r = result("f.strace", devices=[dev],
               findings=[finding("U007", file="f.strace", line=12, dev="dev0"),
                         finding("U007", file="f.strace", line=40, dev="dev0"),
                         finding("U011", "warning", file="f.strace", line=50, dev="dev0")])
    _, root = render([r])
    item = root.find("ul", cls="devices").find("li")
    kinds = [c.attrs.get("class") for c in item.children if c.tag == "div"]
    assert kinds == ["failed", "undecided muted"]
    failed = " ".join(item.find(cls="failed").text.split())
    assert failed == "failed: 2 errors: U007 (lines 12, 40)"
    undecided = item.find(cls="undecided").text
    assert undecided == "also undecided: the ioctl payloads are hidden"
    inc = replace(device("dev1", verdict="inconclusive"), inconclusive_reasons=("hidden",))
    _, root = render([result("i.strace", devices=[inc])])
    item = root.find("ul", cls="devices").find("li")
    assert not item.find_all(cls="failed")
    assert item.find(cls="undecided").text.startswith("undecided")


# --- paths and paging -------------------------------------------------------------------


def test_capture_paths_are_shown_under_their_common_folder():
    assert common_folder(["/a/b/c.x", "/a/b/d/e.x"]) == "/a/b/"
    assert common_folder(["/a/bc/x", "/a/bd/y"]) == "/a/"
    assert common_folder(["a/x", "b/y"]) == "" and common_folder(["only"]) == ""
    _, root = render(plain_strace(3))
    links = root.find("table", id="captures-table").find_all("a")
    assert [a.text for a in links] == [f"host{i}/save.strace" for i in range(3)]
    assert all(a.attrs["title"].startswith("runs/") for a in links)


def test_big_audit_in_chromium_pages_tables_without_script_errors(chromium, tmp_path):  # noqa: F811
    results = [*_volume_results(), *plain_strace(80)]
    page, root = render(results)
    assert len(root.find("table", id="captures-table").find("tbody").find_all("tr")) == 121
    # an early error trap catches what report.js could not count (a syntax error included)
    trap = ('<script>window.onerror = function (m) { document.documentElement'
            '.setAttribute("data-trapped-error", String(m)); };</script>')
    page = page.replace("</title>", "</title>" + trap, 1)
    path = tmp_path / "big.html"
    path.write_text(page, encoding="utf-8")
    dom = dump_dom(chromium, path, tmp_path / "profile")
    assert "data-trapped-error" not in dom.split("<head>", 1)[0]
    body = body_attributes(dom)
    assert "data-js-errors" not in body, body.get("data-js-error")
    assert body["data-rendered"] == "yes" and body["data-consistent"] == "true"
    # captures (121 rows), data moved (40 groups), coverage unknown (80 captures)
    assert body["data-paged-tables"] == body["data-paged-tables-ok"] == "3"
    shown = parse(dom)
    captures = shown.find("table", id="captures-table")
    assert captures.attrs["data-pages"] == "3"
    visible = [r for r in captures.find("tbody").find_all("tr") if "offpage" not in r.classes()]
    assert len(visible) == 50
    pager = shown.find("div", cls="pager", data_for="captures-table")
    assert "hidden" not in pager.attrs and "of 121" in pager.text


def test_the_error_trap_sees_a_broken_script(chromium, tmp_path):  # noqa: F811
    """The control for the test above: the trap and the report's own counter do fire."""
    page, _ = render(plain_strace(2))
    trap = ('<script>window.onerror = function (m) { document.documentElement'
            '.setAttribute("data-trapped-error", String(m)); };</script>')
    page = page.replace("</title>", "</title>" + trap, 1)
    page = page.replace("</body>", "<script>undefinedFunction();</script></body>", 1)
    path = tmp_path / "broken.html"
    path.write_text(page, encoding="utf-8")
    dom = dump_dom(chromium, path, tmp_path / "profile")
    assert "data-trapped-error" in dom.split("<head>", 1)[0]
    assert body_attributes(dom)["data-js-errors"] == "1"


def test_many_timelines_collapse_after_the_first_ones():
    timed = [result(f"t/{i:03}.strace", devices=[device(
        "d", states=[obs(1, 0.0, "RUNNING"), obs(2, 1.0, "STOP")], last_ts=2.0)])
        for i in range(report.MAX_TIMELINES_SHOWN + 7)]
    _, root = render(timed)
    timing = root.find("section", id="timing")
    more = timing.find("details", cls="more-timelines")
    assert "7 more device timelines" in more.find("summary").text
    assert len(more.find_all("svg")) == 7
    assert len(timing.find_all("svg")) == report.MAX_TIMELINES_SHOWN + 7


def test_fsm_picture_keeps_arrowheads_small_and_count_labels_apart():
    from vfio_migcheck.audit.coverage import FlagCounts, _Tally
    from vfio_migcheck.audit.svg_fsm import MAX_WIDTH, fsm_svg
    from vfio_migcheck.model.fsm import model_for

    m = model_for(SPEC, 0x7)
    counts = FlagCounts()
    for n, arc in enumerate(m.single_arcs()):
        counts.arcs[(arc.src, arc.dst)] = (0, 1, 36, 150, 1182, 99999)[n % 6]
    svg = parse(fsm_svg(m, _Tally(m, counts).freeze())).find("svg")
    markers = svg.find_all("marker")
    assert markers and all(mk.attrs["markerunits"] == "userSpaceOnUse" for mk in markers)
    assert all(float(line.attrs["stroke-width"]) <= MAX_WIDTH for line in svg.find_all("line"))
    boxes = []
    for text in (t for g in svg.find_all("g", cls="arc") for t in g.find_all("text")):
        x, y, width = float(text.attrs["x"]), float(text.attrs["y"]), 7.5 * len(text.text)
        left = {"start": x, "end": x - width, "middle": x - width / 2}[text.attrs["text-anchor"]]
        boxes.append((left, left + width, y - 10, y + 1, text.text))
    assert len(boxes) == len(m.single_arcs())
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert a[1] <= b[0] or b[1] <= a[0] or a[3] <= b[2] or b[3] <= a[2], (a, b)
