"""Every regular expression of the trace readers runs in time linear in its input.

Python's regex engine backtracks: a pattern with adjacent ambiguous parts (``\\s+\\s*``,
``\\S+: x`` searched unanchored, ``(...)$`` searched) is quadratic or worse on a long
line built from one repeated piece. For each module-level pattern of the readers and each
hostile piece, the time for a line four times longer must stay under eight times the time
for the shorter one (ratios, never absolute times: the machine may be busy).
"""

from __future__ import annotations

import importlib
import inspect
import re

import pytest

from tests.support.timing import fastest


def _reader_modules() -> list[str]:
    """Every module of vfio_migcheck.traces (each format's subpackage included)."""
    import pkgutil

    import vfio_migcheck.traces as traces

    return [info.name for info in pkgutil.walk_packages(traces.__path__, "vfio_migcheck.traces.")]


MODULES = _reader_modules()
PIECES = (" ", "1", "a", "A", "[", "(", "<", ":", ".", "-", '"', "\\", "_", "/", "*", "@",
          "x ", "] ", ") ", "= ", ", ", ": ", "0x", "vfio_", "err: ", "recover state A",
          "<... ", "--- ", "1.1 ", "1@1.1:", "Z ", "\\x2f", "1 1 ")
SHORT, LONG = 1500, 6000


_SCANNING = ("search", "finditer", "findall", "sub", "split")


def _patterns() -> list[tuple[str, re.Pattern[str], bool]]:
    """(name, pattern, scanned): scanned when code searches with it (every start).

    A pattern is looked up by its own module's name for it, in its own module and in the
    modules that import that name: two modules may each have a ``_TOKEN``, and one
    module's ``_TOKEN.findall`` says nothing of the other's.
    """
    found = []
    modules = []
    for name in MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        if not getattr(module, "__file__", "").endswith(".py"):
            continue   # a C extension (strace/_linescan): no patterns, no source
        modules.append((name, module, inspect.getsource(module)))
    for name, module, own in modules:
        for attr, value in vars(module).items():
            if not (isinstance(value, re.Pattern) and isinstance(value.pattern, str)):
                continue
            users = [own] + [src for other, _, src in modules if other != name and re.search(
                rf"\bfrom {re.escape(name)} import\b[^\n]*\b{attr}\b", src)]
            used = re.compile(rf"\b{attr}\.(?:{'|'.join(_SCANNING)})\b")
            scanned = any(used.search(src) for src in users)
            found.append((f"{name}.{attr}", value, scanned))
    return found


def _cost(pattern: re.Pattern[str], text: str, scanned: bool) -> float:
    def run() -> None:
        pattern.match(text)
        if scanned:
            pattern.search(text)
    return fastest(run)


def _shapes(piece: str, count: int) -> list[str]:
    run = piece * (count // len(piece))
    return [run, run + "\x00", "x" + run + "!"]


PATTERNS = _patterns()


@pytest.mark.parametrize("name,pattern,scanned", PATTERNS, ids=[n for n, _, _ in PATTERNS])
def test_pattern_is_linear_on_hostile_runs(name: str, pattern: re.Pattern[str],
                                           scanned: bool) -> None:
    for piece in PIECES:
        for short, long in zip(_shapes(piece, SHORT), _shapes(piece, LONG)):
            small = _cost(pattern, short, scanned)
            if small < 2e-4:
                # too fast to measure a ratio: the long run must still be fast
                small = 2e-4
            big = _cost(pattern, long, scanned)
            assert big < 8 * small * (LONG / SHORT) / 4 + 0.002, (
                f"{name} on {piece!r} runs: {small:.5f}s for {len(short)} chars, "
                f"{big:.5f}s for {len(long)}")


def test_the_probe_finds_the_patterns() -> None:
    assert len(PATTERNS) > 30
