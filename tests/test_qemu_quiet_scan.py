"""The reader's block scan of quiet QEMU records against the per-line test it stands for.

``QUIET_RUN`` takes whole lines of a block in one match; a line it takes must be a line
``quiet_line`` takes, with the same event name and device (``QUIET_HEADS``), and the
other way round. Lines are rendered from every quiet (event, shape) pair's templates with
random numbers and blanks, behind every prefix kind, plus near misses: another event's
shape, a word too many or too few, a value that is no number, an impossible date,
blanks at either end.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vfio_migcheck.traces.qemu.fastrecord import _N, _SHAPES, template_pattern
from vfio_migcheck.traces.qemu.quiet import QUIET_HEADS, QUIET_PAIRS, QUIET_RUN, quiet_line

PAIRS = sorted(QUIET_PAIRS)
PREFIXES = ["2026-01-01T00:00:00.101430Z ", "2026-01-01T00:00:00Z ", "4030@1767225600.123456:",
            "1@2.3:", "2026-02-30T00:00:00.5Z ", "2026-13-01T00:00:00.1Z ", "", "x 1@2.3:",
            "2026-01-28T23:59:59.9Z  "]
DEVICES = ["0000:3b:00.1", "vfio_pci0", "d", "", " 0000:3b:00.1 ", "a(b"]
NUMBERS = ["0", "7", "1048576", "0x10", "-1", "1" + "0" * 18, "x", ""]


@st.composite
def rendered_args(draw, clean: bool, shape: str) -> str:
    """The arguments of one of ``shape``'s templates, blanks and numbers drawn (``clean``:
    as QEMU writes them, else with near misses)."""
    numbers = NUMBERS[:5] if clean else NUMBERS
    index = draw(st.integers(0, len(_SHAPES[shape]) - 1))
    out = [draw(st.sampled_from(["", " "] if clean else ["", " ", "  "]))]
    previous = None
    for want in _SHAPES[shape][index]:
        if previous is not None:
            comma = previous == "," or want == ","
            gaps = (["", " "] if comma else [" ", "  "]) + ([] if clean else [""])
            out.append(draw(st.sampled_from(gaps)))
        out.append(draw(st.sampled_from(numbers)) if want is _N else want)
        previous = want
    out.append(draw(st.sampled_from(["", " "] if clean else ["", " ", "\t", " extra"])))
    return "".join(out)


@st.composite
def record_lines(draw) -> str:
    clean = draw(st.booleans())
    raw, shape = draw(st.sampled_from(PAIRS))
    if not clean:   # another event's name, or another event's shape
        raw = draw(st.sampled_from([raw, raw, "vfio_migration_set_state",
                                    "vfio_unknown_event", *(r for r, _s in PAIRS)]))
        shape = draw(st.sampled_from([shape, *(s for _r, s in PAIRS)]))
    gap = draw(st.sampled_from([" ", "  "] if clean else [" ", "  ", "   ", ""]))
    device = draw(st.sampled_from(DEVICES[:1] if clean else DEVICES))
    prefix = draw(st.sampled_from(PREFIXES[:4] if clean else PREFIXES))
    return f"{prefix}{raw}{gap}({device}){draw(rendered_args(clean, shape))}"


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(record_lines())
def test_the_block_scan_takes_a_line_exactly_when_the_line_test_does(line: str) -> None:
    scanned = QUIET_RUN.fullmatch(line + "\n") is not None
    found = quiet_line(line)
    # quiet_line also refuses a device holding another record's name: the reader makes
    # that test once per run (the run is then read line by line), not per line
    device_ok = found is not None or QUIET_HEADS.search(line) is None or not any(
        word in QUIET_HEADS.search(line).group(2)  # type: ignore[union-attr]
        for word in ("vfio_", "vm_state_notify", "migrate_set_state"))
    if found is not None:
        assert scanned, line
        assert QUIET_HEADS.findall(line) == [found], line
    elif device_ok:
        assert not scanned, line


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(record_lines(), min_size=1, max_size=8))
def test_a_scanned_run_is_its_lines_and_their_heads(lines: list[str]) -> None:
    text = "\n".join(lines) + "\n"
    m = QUIET_RUN.match(text)
    taken = 0 if m is None else m.group().count("\n")
    # the scan stops at the first line the line test refuses, and takes every line before
    quiet = [quiet_line(line) is not None or QUIET_RUN.fullmatch(line + "\n") is not None
             for line in lines]
    expected = quiet.index(False) if False in quiet else len(lines)
    assert taken == expected
    if taken:
        chunk = text[:m.end() - 1]  # type: ignore[union-attr]
        assert chunk.split("\n") == lines[:taken]
        assert QUIET_HEADS.findall(chunk) == [QUIET_HEADS.search(line).group(1, 2)  # type: ignore
                                              for line in lines[:taken]]


def test_no_quiet_shape_names_a_vfio_event() -> None:
    """QUIET_HEADS finds each line's name unanchored: nothing after it may hold "vfio_"."""
    assert PAIRS
    for _raw, shape in PAIRS:
        for template in _SHAPES[shape]:
            assert "vfio_" not in template_pattern(template)
