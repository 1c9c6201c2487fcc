"""Where a report goes: ``-o/--output-file FILE`` or standard output (``-`` or no file).

Shared by ``check`` and ``audit`` so both treat the option alike: the directory is checked
before any work, a write error is one line naming the file, never a traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import click

from vfio_migcheck.cli.common import UNWRAPPED_WIDTH, fail_usage

if TYPE_CHECKING:
    from rich.console import Console


def to_stdout(target: str | None) -> bool:
    return target is None or target == "-"


def check_writable(target: str | None) -> None:
    """Refuse a file in a missing directory up front, not after minutes of checking."""
    if not to_stdout(target) and not Path(target).resolve().parent.is_dir():
        fail_usage(f"{target}: cannot write: no such directory")


@contextmanager
def open_output(target: str) -> Iterator[TextIO]:
    if to_stdout(target):
        yield click.get_text_stream("stdout")
        return
    try:
        handle = open(target, "w", encoding="utf-8")  # noqa: SIM115 - closed below
    except OSError as exc:
        fail_usage(f"{target}: cannot write: {exc.strerror or exc}")
    with handle:
        yield handle


def write_text(target: str | None, text: str) -> None:
    if to_stdout(target):
        click.echo(text, nl=False)
        return
    with open_output(target) as handle:
        handle.write(text)


def file_console(handle: TextIO) -> Console:
    """A rich console writing plain, unwrapped text to a file (no colours, no width)."""
    from rich.console import Console

    return Console(file=handle, highlight=False, soft_wrap=True, width=UNWRAPPED_WIDTH,
                   no_color=True, color_system=None)
