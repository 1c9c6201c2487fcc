"""The FSM pictures: DOT in stable rows, Mermaid with the ERROR state and the reset arc.

Structure is checked on the text; when Graphviz is installed, the DOT is also laid out and
the rows and the label positions are checked on the result.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from vfio_migcheck.model.fsm import FlagModel
from vfio_migcheck.model.render import MERMAID_GROUP_LABELS, ranks, render_graph
from vfio_migcheck.model.spec import load_spec

SPEC = load_spec("linux-6.12")
FLAG_SETS = (0x1, 0x3, 0x5, 0x7)


def model(flags: int) -> FlagModel:
    return FlagModel(SPEC, flags)


# --- rows ---------------------------------------------------------------------------------


def test_rows_for_linux_follow_the_distance_from_the_reset_state():
    assert ranks(model(0x7)) == {
        "RUNNING": 0, "RUNNING_P2P": 1, "PRE_COPY": 1, "STOP": 2, "PRE_COPY_P2P": 2,
        "RESUMING": 3, "STOP_COPY": 3, "ERROR": 3}
    assert ranks(model(0x1)) == {"RUNNING": 0, "STOP": 1, "STOP_COPY": 2, "RESUMING": 2,
                                 "ERROR": 2}


@pytest.mark.parametrize("flags", FLAG_SETS)
def test_every_single_arc_moves_at_most_one_row_down(flags):
    m = model(flags)
    rank = ranks(m)
    assert set(rank) == set(m.usable) | {SPEC.error_state}
    for arc in m.single_arcs():
        assert rank[arc.dst] <= rank[arc.src] + 1, arc


# --- DOT ----------------------------------------------------------------------------------


def _dot_rows(dot: str) -> list[list[str]]:
    return [re.findall(r'"(\w+)";', m) for m in re.findall(r"\{ rank=same; ([^}]*)\}", dot)]


@pytest.mark.parametrize("flags", FLAG_SETS)
def test_dot_puts_each_state_in_one_row_and_back_arcs_do_not_move_rows(flags):
    m = model(flags)
    dot = render_graph(m, "dot")
    rows = _dot_rows(dot)
    placed = [s for row in rows for s in row]
    assert sorted(placed) == sorted(set(m.usable) | {SPEC.error_state})
    rank = ranks(m)
    assert [sorted({rank[s] for s in row}) for row in rows] == [[r] for r in sorted(set(
        rank.values()))]
    for src, dst, attrs in re.findall(r'"(\w+)" -> "(\w+)" \[(.*)\];', dot):
        back = rank[src] > rank[dst] or src == SPEC.error_state
        assert ("constraint=false" in attrs) == back, (src, dst)
    assert "cluster_saving" in dot and "rankdir=TB" in dot
    assert dot == render_graph(model(flags), "dot")          # stable


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz (dot) is not installed")
@pytest.mark.parametrize("flags", FLAG_SETS)
def test_dot_layout_has_its_rows_top_down_and_no_two_labels_on_one_spot(flags):
    m = model(flags)
    plain = subprocess.run(["dot", "-Tplain"], input=render_graph(m, "dot"), text=True,
                           capture_output=True, check=True, timeout=60).stdout
    y = {name.strip('"'): float(ys) for name, ys in
         re.findall(r"^node (\S+) \S+ (\S+)", plain, re.M)}
    rank = ranks(m)
    for a in rank:
        for b in rank:
            if rank[a] < rank[b]:
                assert y[a] > y[b], (a, b)         # plain y grows upwards: row 0 on top
    labels = [(quoted or bare, float(x), float(yy)) for quoted, bare, x, yy in re.findall(
        r'^edge \S+ \S+ \d+ (?:[\d.]+ [\d.]+ )+(?:"([^"]+)"|([A-Za-z_]\w*)) ([\d.]+) ([\d.]+) '
        r"\w+ \w+$", plain, re.M)]
    labelled = [a for a in m.single_arcs() if a.session != "none"]
    assert len(labels) == len(labelled) + 1                  # and the reset arc
    for i, (t1, x1, y1) in enumerate(labels):
        for t2, x2, y2 in labels[i + 1:]:
            # boxes of 10 pt Helvetica: about 0.075 in a character, 0.18 in high
            apart_x = abs(x1 - x2) >= 0.075 * (len(t1) + len(t2)) / 2
            assert apart_x or abs(y1 - y2) >= 0.18, (t1, t2, labels)


# --- Mermaid ------------------------------------------------------------------------------


@pytest.mark.parametrize("flags", FLAG_SETS)
def test_mermaid_has_the_error_state_the_reset_arc_and_every_arc_once(flags):
    m = model(flags)
    text = render_graph(m, "mermaid")
    lines = text.splitlines()
    assert lines[0] == "flowchart TB"
    assert 's_ERROR{{"ERROR"}}' in text
    assert 's_ERROR -. "VFIO_DEVICE_RESET" .-> s_RUNNING' in text
    assert "start --> s_RUNNING" in text
    links = [line for line in lines if re.search(r"(-->|\.->)", line)]
    arcs = re.findall(r"^\s+s_(\w+)(?: -- \"[^\"]*\")? --> s_(\w+)$", text, re.M)
    assert sorted(arcs) == sorted((a.src, a.dst) for a in m.single_arcs())
    styles = re.findall(r"^\s+linkStyle (\d+) ", text, re.M)
    assert [int(n) for n in styles] == list(range(len(links)))


def test_mermaid_names_the_saving_group_for_people():
    text = render_graph(model(0x7), "mermaid")
    assert f'subgraph saving_group ["{MERMAID_GROUP_LABELS["saving"]}"]' in text
    # every shown name is a quoted label: states by their uAPI name, groups in words
    shown = re.findall(r'\["([^"]*)"\]|\(\["([^"]*)"\]\)|\{\{"([^"]*)"\}\}', text)
    names = {x for triple in shown for x in triple if x}
    assert "saving group" in names and "saving_group" not in names
    assert {"RUNNING", "STOP_COPY", "ERROR"} <= names


def test_mermaid_highlight_marks_the_path():
    text = render_graph(model(0x7), "mermaid", highlight=["PRE_COPY", "PRE_COPY_P2P",
                                                         "STOP_COPY"])
    assert text.count('"on path: keeps session"') == 2
    assert "class s_PRE_COPY onpath" in text and "class s_STOP_COPY onpath" in text
    assert text.count("stroke:#ff00ff") == 2
