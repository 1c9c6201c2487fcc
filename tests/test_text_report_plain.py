"""The text report written without rich is the text rich writes when it prints no colour.

Piped or into a file, ``check`` writes its text report through
:class:`~vfio_migcheck.checker.reports.text.PlainText` instead of a rich console (so that it
need not import rich, issue 12); the bytes must be those of the rich consoles it replaces:
``stdout_console`` off a terminal and ``file_console``.
"""

from __future__ import annotations

import io
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from vfio_migcheck.checker.api import check_trace
from vfio_migcheck.checker.reports import UNWRAPPED_WIDTH
from vfio_migcheck.checker.reports.text import PlainText, render, report_lines
from vfio_migcheck.cli.output import file_console

ROOT = Path(__file__).parent.parent
STYLES = ["", "bold", "dim", "bold red", "bold underline", "yellow"]


def _rich_pipe(buffer: io.StringIO) -> Console:
    """What ``stdout_console`` makes when stdout is not a terminal."""
    return Console(file=buffer, highlight=False, soft_wrap=True, width=UNWRAPPED_WIDTH)


def _both(results, quiet: bool = False) -> tuple[str, str, str]:
    plain, piped, filed = io.StringIO(), io.StringIO(), io.StringIO()
    render(results, PlainText(plain), quiet=quiet)
    render(results, _rich_pipe(piped), quiet=quiet)
    render(results, file_console(filed), quiet=quiet)
    return plain.getvalue(), piped.getvalue(), filed.getvalue()


# tabs, the control characters rich drops, wide and combining characters, markup look-alikes
TEXT = st.text(st.one_of(st.sampled_from(list("\t\x07\x08\x0b\x0c\r\x1b\x00 [ ]:中é\u200b…")),
                         st.characters()), max_size=30)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(STYLES),
                          st.lists(st.tuples(TEXT, st.sampled_from(STYLES)), max_size=4)),
                max_size=4))
def test_any_line_is_written_as_rich_writes_it(lines) -> None:
    plain, piped, filed = io.StringIO(), io.StringIO(), io.StringIO()
    sink = PlainText(plain)
    for base, pieces in lines:
        line = (base, tuple(pieces))
        sink.print_line(line)
        render_one(_rich_pipe(piped), line)
        render_one(file_console(filed), line)
    assert plain.getvalue() == piped.getvalue() == filed.getvalue()


def render_one(console: Console, line) -> None:
    from vfio_migcheck.checker.reports.text import _print_rich

    _print_rich(console, line)


def test_the_reports_of_the_examples_and_fixtures_are_the_same() -> None:
    paths = sorted((ROOT / "vfio_migcheck" / "examples").iterdir())
    paths += sorted((ROOT / "tests" / "fixtures" / "canonical").glob("*.vmc"))
    paths += sorted((ROOT / "tests" / "fixtures" / "qemu").glob("*.log"))
    results = [check_trace(p, max_repeats=10, observations=False) for p in paths]
    assert any(r.findings for r in results)
    for quiet in (False, True):
        plain, piped, filed = _both(results, quiet)
        assert plain == piped == filed
        assert plain.count("\n") == len(report_lines(results, quiet))
