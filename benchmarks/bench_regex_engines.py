"""What a DFA regex engine (google-re2) would buy the strace skip scan, against CPython's ``re``.

Usage: python benchmarks/bench_regex_engines.py [--lines N] CAPTURE

The strace reader steps over irrelevant lines with one compiled pattern per reader state
(``traces/strace/scan.py``). CPython's ``re`` backtracks: its cost per line grows with the
pattern (every alternative, every look-ahead is tried in turn). A DFA engine costs about
the same per byte whatever the pattern, but knows no look-arounds and no
back-references, which the present pattern uses (call names *not* in a set, polls
without ``_mig``, the pair rule that finds a split call's second half). This script
measures the two engines on patterns both can run, built from the capture itself:

* *plain*: the capture's pid columns and timestamps, then a few literal call names;
* *rich*: the same head, then every call name of the capture that VFIO never makes (an
  alternation: what "not in the set" becomes without a look-ahead), ``KVM_RUN`` ioctls,
  I/O on eventfds, polls whose text holds no ``_mig`` and the second halves of those
  calls. Each engine gets its best spelling of "no ``_mig``": ``re`` a look-ahead and
  possessive runs (as scan.py spells it), the DFA the complement written as a pattern.

Each pattern is matched, anchored, as ``(?:LINE\\n)*`` over the text of the capture's
lines it steps over (one call), giving ns a line; a second figure is the fixed cost of
one call, on ``bytes`` and on ``str`` (the binding encodes a ``str`` at every call). It
measures scanning only: split calls are stepped over without proving their pairing.
Without google-re2 installed (``pip install google-re2``; not a dependency of the
project), only the ``re`` figures are printed.
"""

from __future__ import annotations

import argparse
import re
import time
from collections import Counter
from pathlib import Path

try:
    import re2  # type: ignore[import-not-found]
except ImportError:   # measured only when installed
    re2 = None

from vfio_migcheck.traces.strace.threads import NAME_CLASS

HEAD = re.compile(rb"(?:\[pid +)?([0-9]+)\]? +[0-9.:]+ (<\.\.\. )?([A-Za-z_][A-Za-z0-9_]*)")
NO_MIG = rb"(?:[^_\n]|_+(?:[^m_\n]|m(?:[^i\n]|i[^g\n])))*_*(?:mi?)?"   # no "_mig" in a line
REST = rb"[^\n]*\n"


def patterns(lines: list[bytes]) -> dict[str, bytes]:
    """The plain and the rich line pattern, from what the capture's lines show, spelled
    for a DFA (the ``re`` spelling is derived by :func:`for_re`)."""
    pids, quiet = set(), Counter()
    for line in lines:
        head = HEAD.match(line)
        if head:
            pids.add(head.group(1))
            if head.group(3).decode() not in NAME_CLASS:
                quiet[head.group(3)] += 1
    pid = rb"(?:\[pid +)?(?:" + b"|".join(sorted(pids)) + rb")(?:\] | +)"
    stamp = rb"(?:[0-9]{1,20}\.[0-9]{1,20} |[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,20})? |)"
    few = sorted(quiet, key=quiet.get, reverse=True)[:3] or [b"futex"]
    names = b"|".join(re.escape(name) for name in sorted(quiet) or [b"futex"])
    eventfd = rb"[0-9]+<anon_inode:\[eventfd\]>"
    rich = (rb"(?:" + names + rb")\(" + REST
            + rb"|ioctl\([0-9]+<anon_inode:kvm-vcpu:[0-9]+>, KVM_RUN" + REST
            + rb"|(?:read|write)\(" + eventfd + rb", " + REST
            + rb"|p?poll\(" + NO_MIG + rb"\n"
            + rb"|<\.\.\. (?:" + names + rb"|ioctl|ppoll|poll|read|write) resumed>" + REST)
    return {"plain": pid + stamp + rb"(?:" + b"|".join(few) + rb")\(" + REST,
            "rich": pid + stamp + rb"(?:" + rich + rb")"}


def for_re(line: bytes) -> bytes:
    """The same pattern as CPython's ``re`` runs it best: possessive runs, a look-ahead."""
    return line.replace(NO_MIG + rb"\n", rb"(?![^\n]*_mig)" + REST).replace(
        REST, rb"[^\n]*+\n")


def per_line(engine, line: bytes, text: bytes, count: int, repeat: int = 3) -> float:
    """ns a line of one anchored match of ``(?:LINE\\n)*`` over ``text`` (all of it)."""
    compiled = engine.compile(b"(?:" + (for_re(line) if engine is re else line) + b")*")
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        end = compiled.match(text).end()
        best = min(best, time.perf_counter() - start)
    if end != len(text):
        raise SystemExit(f"{engine.__name__} stopped at byte {end} of {len(text)}")
    return best / count * 1e9


def per_call(engine, text, calls: int = 20000) -> float:
    """µs of one anchored match that fails at once, at positions inside ``text``."""
    compiled = engine.compile(b"x*" if isinstance(text, bytes) else "x*")
    span = max(len(text) - 1000, 1)
    start = time.perf_counter()
    for index in range(calls):
        compiled.match(text, index * 7919 % span)
    return (time.perf_counter() - start) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("capture", type=Path, help="a mixed strace capture (-f -ttt -T -y)")
    parser.add_argument("--lines", type=int, default=200_000, help="lines of it to use")
    args = parser.parse_args()
    with open(args.capture, "rb") as handle:
        lines = [line for _, line in zip(range(args.lines), handle)]
    engines = [re] + ([re2] if re2 is not None else [])
    print(f"{len(lines):,} lines of {args.capture.name}; engines: "
          + ", ".join(engine.__name__ for engine in engines))
    for name, line in patterns(lines).items():
        whole = re.compile(line)
        stepped = [text for text in lines if whole.fullmatch(text)]
        text = b"".join(stepped)
        cells = ", ".join(f"{engine.__name__} {per_line(engine, line, text, len(stepped)):,.0f}"
                          for engine in engines)
        print(f"{name:5s} pattern ({len(line):,} bytes) steps over {len(stepped):,} lines "
              f"({len(stepped) / len(lines):.0%}): ns a line: {cells}")
    block = b"".join(lines[:3000])
    for engine in engines:
        figures = [f"bytes {per_call(engine, block):.2f}"]
        if engine is not re:
            figures.append(f"str {per_call(engine, block.decode(), 2000):.2f}")
        print(f"{engine.__name__}: µs a call: " + ", ".join(figures))


if __name__ == "__main__":
    main()
