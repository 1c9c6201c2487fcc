"""Dense plain strace for the engine's benchmark: a real capture's migration loop, repeated.

The loop is taken from the bundled ``mtty-migrate2.strace`` (a lab capture of Linux 6.12's
mtty driver, the same run as ``tests/corpus/lab-mtty-6.12/f_y_tt_T``): save device 5 into
device 7 through data fds 8 and 9, then both devices back to RUNNING. Timestamps, durations
and ``-y`` decorations are removed, so the result is what plain ``strace -f`` shows: every
FEATURE payload hidden, the data fds found by allocation order, the driver unknown. Every
line of the loop is a VFIO call; the loop is repeated until ``--lines`` is reached, then the
capture's own teardown ends the file.

The loop is lines 51-73 of the capture: the device and group fds stay open and every round
migrates again through new data fds, as a VMM that migrates one VM back and forth does. The
teardown (lines 74-87) then closes them. ``--closing`` gives the older shape, lines 51-77 as
the loop: each round also closes the device and group fds, so from the second round on its
calls are on fds the capture never opened (unrealistic, and much easier for the engine).

Usage: python benchmarks/gen_dense.py OUT --lines 200000 [--closing]
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

SOURCE = Path(__file__).resolve().parent.parent / "vfio_migcheck" / "examples" / \
    "mtty-migrate2.strace"
#: 1-based line ranges of the capture: setup, the repeatable loop, teardown
SETUP = (1, 50)
LOOP = (51, 73)
TEARDOWN = (74, 87)
#: the older loop, which also closes the device and group fds (``--closing``)
CLOSING_LOOP = (51, 77)
CLOSING_TEARDOWN = (78, 87)

_PREFIX = re.compile(r"^(\d+)\s+\d\d:\d\d:\d\d\.\d+ ")
_DURATION = re.compile(r" <\d+\.\d+>$")
_DECORATION = re.compile(r"(?<=\d)<[^<>]*(?:<[^<>]*>[^<>]*)*>")


def plain(line: str) -> str:
    """One ``strace -f -y -tt -T`` line as plain ``strace -f`` prints it."""
    line = line.rstrip("\n")
    line = _PREFIX.sub(lambda m: f"{m.group(1):<5} ", line)
    line = _DURATION.sub("", line)
    return _DECORATION.sub("", line)


def capture_lines() -> list[str]:
    return [plain(text) for text in SOURCE.read_text(encoding="utf-8").splitlines()]


def generate(out, lines: int, closing: bool = False) -> int:
    """Write at least ``lines`` lines (whole loops); return how many were written.
    ``closing``: the older loop that closes the device and group fds every round."""
    source = capture_lines()
    loop_range, teardown_range = (CLOSING_LOOP, CLOSING_TEARDOWN) if closing else \
        (LOOP, TEARDOWN)
    setup = source[SETUP[0] - 1:SETUP[1]]
    loop = source[loop_range[0] - 1:loop_range[1]]
    teardown = source[teardown_range[0] - 1:teardown_range[1]]
    written = 0
    for text in setup:
        out.write(text + "\n")
        written += 1
    while written + len(teardown) < lines:
        for text in loop:
            out.write(text + "\n")
        written += len(loop)
    for text in teardown:
        out.write(text + "\n")
        written += 1
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--closing", action="store_true",
                        help="the older loop that also closes the device and group fds")
    args = parser.parse_args()
    with open(args.out, "w", encoding="utf-8") as out:
        written = generate(out, args.lines, args.closing)
    print(f"{args.out}: {written} lines")


if __name__ == "__main__":
    main()
