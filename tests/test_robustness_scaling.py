"""Issue 11: every hostile input shape is read in time linear in its size.

Each shape (the reproducers' and their relatives) is read at size N and 4N; the larger
must take less than 8x the time of the smaller (a quadratic reader takes 16x). Ratios,
never absolute times: the machine may be busy. Sizes are small enough to keep this fast.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.timing import fastest
from vfio_migcheck.traces.reading import open_trace

SAVE = "vfio_save_setup  (0000:3b:00.1) data buffer size 1"


def _line_shape(build: Callable[[int], str], lines: int = 4) -> Callable[[int], str]:
    return lambda n: "\n".join(build(n) for _ in range(lines)) + "\n"


# (name, format, text of size ~n, n)
SHAPES: list[tuple[str, str, Callable[[int], str], int]] = [
    ("qemu-error-report", "qemu",
     _line_shape(lambda n: "x: Failed setting device state to " + "A" * n), 20000),
    ("qemu-out-of-sync", "qemu", _line_shape(lambda n: "data_fd out of sync " + "a" * n), 20000),
    ("qemu-err-text", "qemu",
     _line_shape(lambda n: "d: Failed setting device state to STOP. " + "err: x" * (n // 6)),
     20000),
    ("qemu-msg-prefix", "qemu", _line_shape(lambda n: "a" * n + ": " + SAVE), 20000),
    ("qemu-tid-prefix", "qemu", _line_shape(lambda n: "1" * n + ":" + SAVE), 20000),
    ("qemu-guest-bracket", "qemu", _line_shape(lambda n: "[" * n + " x(1): " + SAVE), 20000),
    ("qemu-event-names", "qemu", _line_shape(lambda n: "vfio_" * (n // 5) + "  (x)"), 20000),
    ("qemu-qmp-objects", "qemu",
     _line_shape(lambda n: '"VFIO_MIGRATION" ' + '{"event": ' * (n // 10)), 20000),
    ("strace-blank-run", "strace", _line_shape(lambda n: "1" + " " * n + "x(1) = 0"), 20000),
    ("strace-unfinished-blanks", "strace",
     _line_shape(lambda n: "1 read(3, " + " " * n + "...>"), 20000),
    ("strace-nesting", "strace",
     _line_shape(lambda n: '1 openat(AT_FDCWD, "/x", ' + "[" * n + ") = 3"), 20000),
    ("strace-tids-unfinished", "strace",
     lambda n: "".join(f"{tid} read(3,  <unfinished ...>\n" for tid in range(1, n // 25)),
     60000),
    ("strace-tids-close", "strace",
     lambda n: "".join(f"{tid} close(3) = 0\n" for tid in range(1, n // 15)), 60000),
    ("strace-tids-exit", "strace",
     lambda n: "".join(f"{tid} close(3) = 0\n{tid} +++ exited with 0 +++\n"
                       for tid in range(1, n // 40)), 60000),
    ("strace-clone-in-flight", "strace",
     lambda n: "".join(f"{tid} clone(child_stack=NULL, flags=CLONE_VM <unfinished ...>\n"
                       for tid in range(1, n // 60)), 60000),
    ("canonical-long-number", "canonical",
     lambda n: "# vmc-trace 1\n" + f"device d fd={'1' * n}\n" * 4, 20000),
]


def _read(path: Path, fmt: str) -> float:
    def read_all() -> None:
        for _event in open_trace(path, fmt).events:
            pass
    return fastest(read_all, repeat=3)   # best of three: the suite runs beside other work


@pytest.mark.parametrize("name,fmt,build,size", SHAPES, ids=[s[0] for s in SHAPES])
def test_reading_is_linear(tmp_path: Path, name: str, fmt: str,
                           build: Callable[[int], str], size: int) -> None:
    small, big = tmp_path / "small.txt", tmp_path / "big.txt"
    small.write_text(build(size))
    big.write_text(build(4 * size))
    assert big.stat().st_size > 3 * small.stat().st_size
    _read(small, fmt)                           # warm-up: imports, grammar builds
    t_small = max(_read(small, fmt), 0.02)      # below timer noise: compare with 20 ms
    t_big = _read(big, fmt)
    assert t_big < 8 * t_small, f"{name}: {t_small:.3f}s for N, {t_big:.3f}s for 4N"
