"""Possessive quantifiers and atomic groups on Python 3.10 (traces/portable_re.py).

The classic spelling must match exactly what the native one matches (hypothesis, on
random patterns and texts), and the package must run end to end with the classic
spelling and with no pattern that only Python 3.11's ``re`` reads: a subprocess forces
the classic spelling, makes ``re`` refuse 3.11-only syntax, and checks captures of every
format against this process's native results.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vfio_migcheck.traces import portable_re
from vfio_migcheck.traces.portable_re import classic

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(not portable_re.NATIVE,
                                reason="compares with the native spelling (Python >= 3.11)")


# --- random patterns over a tiny alphabet ---------------------------------------------------

_ATOMS = st.sampled_from(["a", "b", ".", "[ab]", "[^a]", "\\w", "\\d", "0"])
_QUANTIFIERS = st.sampled_from(["", "*", "+", "?", "{2}", "{1,2}", "{,2}", "{2,}"])
_MODES = st.sampled_from(["", "", "?", "+"])      # greedy, lazy, possessive


@st.composite
def _patterns(draw, depth: int = 0) -> str:
    items = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.integers(0, 5 if depth < 2 else 0))
        if kind == 0:
            atom = draw(_ATOMS)
        elif kind == 1:
            atom = "(?>" + draw(_alternatives(depth + 1)) + ")"
        elif kind == 2:
            atom = "(?:" + draw(_alternatives(depth + 1)) + ")"
        elif kind == 3:
            atom = f"(?P<g{draw(st.integers(0, 10**6))}>" + draw(_alternatives(depth + 1)) + ")"
        elif kind == 4:
            atom = "(?=" + draw(_alternatives(depth + 1)) + ")"
        else:
            atom = "(?!" + draw(_alternatives(depth + 1)) + ")"
        quantifier = draw(_QUANTIFIERS)
        if quantifier and not atom.startswith(("(?=", "(?!")):
            # (possessive only after a character, an escape or a set, as the package writes
            # it: portable_re refuses it after a group, see test_..._after_a_group)
            atom += quantifier + draw(_MODES if kind == 0 else st.sampled_from(["", "?"]))
        items.append(atom)
    return "".join(items)


@st.composite
def _alternatives(draw, depth: int) -> str:
    return "|".join(draw(st.lists(_patterns(depth), min_size=1, max_size=2)))


def _outcome(match: re.Match[str] | None) -> tuple | None:
    """What a caller may read of a match: its span and its named groups but the added."""
    if match is None:
        return None
    return match.span(), {name: value for name, value in match.groupdict().items()
                          if not name.startswith("_a")}


def _unique_names(pattern: str) -> str:
    """Number the drawn group names apart (a name may be defined once)."""
    count = iter(range(10**6))
    return re.sub(r"\(\?P<g[0-9]+>", lambda _m: f"(?P<g{next(count)}>", pattern)


@settings(max_examples=400, deadline=None)
@given(_patterns(), st.lists(st.text("ab0_ ", max_size=8), min_size=1, max_size=6))
def test_the_classic_spelling_matches_what_the_native_one_matches(pattern, texts) -> None:
    pattern = _unique_names(pattern)
    native = re.compile(pattern)
    rewritten = re.compile(classic(pattern))
    assert not re.search(r"[*+?}]\+|\(\?>", classic(pattern).replace("(?P=", "")), pattern
    for text in texts:
        assert _outcome(rewritten.fullmatch(text)) == _outcome(native.fullmatch(text)), \
            (pattern, text)
        assert _outcome(rewritten.match(text)) == _outcome(native.match(text)), (pattern, text)
        assert _outcome(rewritten.search(text)) == _outcome(native.search(text)), \
            (pattern, text)


def test_possessive_parts_keep_what_they_took() -> None:
    """Where possessiveness changes the answer, the classic spelling gives the native one."""
    for pattern, text in [(r"a*+a", "aaa"), (r"(?>ab|a)b", "ab"), (r"[0-9]++1", "111"),
                          (r"(?:-?[0-9]++[ \t]*+){4}[a-z_]", "12345x")]:
        assert re.fullmatch(pattern, text) is None
        assert re.fullmatch(classic(pattern), text) is None
        assert re.fullmatch(pattern.replace("++", "+").replace("*+", "*")
                            .replace("(?>", "(?:"), text) is not None   # (it matters)


def test_syntax_that_is_no_quantifier_is_left_as_it_is() -> None:
    for pattern in [r"\++", r"[+*]+", r"a\{2}+", r"\x2b+", r"(?P=g)?", r"(?#a++)b",
                    r"(?i)a+", r"[]+]", r"a{x}+"]:
        assert "(?=" not in classic(pattern.replace("(?P=g)", "(?P<g>c)(?P=g)")), pattern
    assert classic(r"a{x}+") == r"a{x}+"
    assert classic(r"(?(g)a++|b)") == r"(?(g)(?:(?=(?P<_a1>a+))(?P=_a1))|b)"


def test_a_possessive_quantifier_after_a_group_is_refused() -> None:
    """CPython's possessive repeat of a group gives up where the atomic group of its
    documentation backtracks inside the group: no spelling is right for both."""
    assert re.fullmatch(r"(?:.+){2}+", "00") is None
    assert re.fullmatch(r"(?>(?:.+){2})", "00") is not None
    with pytest.raises(ValueError, match="after a group"):
        classic(r"(?:.+){2}+")
    assert re.fullmatch(classic(r"(?>(?:.+){2})"), "00") is not None


def test_patterns_it_cannot_read_are_refused() -> None:
    for pattern in ["(a", "a)", "[ab", "(?Qx)"]:
        with pytest.raises(ValueError):
            classic(pattern)
    with pytest.raises(ValueError):
        classic("a++", re.VERBOSE)


# --- the package end to end with the classic spelling ---------------------------------------

_CLASSIC_RUN = r"""
import json, re, sys
sys.path.insert(0, sys.argv[1])
from vfio_migcheck.traces import portable_re
portable_re.NATIVE = False
_compile = re._compile

def strict(pattern, flags):
    # what Python 3.10's re refuses: a possessive quantifier or an atomic group
    if isinstance(pattern, str):
        try:
            newer = portable_re.classic(pattern, flags) != pattern
        except ValueError:
            newer = False
        if newer:
            raise re.error(f"3.11-only syntax in {pattern!r}")
    return _compile(pattern, flags)

re._compile = strict
re._cache.clear()
import importlib, pkgutil, vfio_migcheck
for module in pkgutil.walk_packages(vfio_migcheck.__path__, "vfio_migcheck."):
    if not module.name.endswith("__main__"):
        importlib.import_module(module.name)
from vfio_migcheck.checker.api import check_trace
from vfio_migcheck.checker.reports.json import to_json
out = {}
for path in sys.argv[2:]:
    out[path] = to_json([check_trace(path, observations=False)])
from vfio_migcheck.traces.strace import scan
out["skip patterns built"] = len(scan._CACHE)
print(json.dumps(out, default=str))
"""


def _captures(tmp_path: Path) -> list[str]:
    """A capture of each format, and a mixed strace capture long enough for the reader to
    build its skip patterns (benchmarks/gen_strace.py)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from gen_strace import generate
    finally:
        sys.path.pop(0)
    mixed = tmp_path / "mixed.strace"
    generate(mixed, 6000, "mixed", seed=5)
    examples = sorted((ROOT / "vfio_migcheck" / "examples").iterdir())
    fixtures = [next(iter(sorted((ROOT / "tests" / "fixtures" / kind).rglob(pattern))))
                for kind, pattern in [("qemu", "*.log"), ("canonical", "*.vmc")]]
    bpftrace = sorted((ROOT / "tests" / "corpus").rglob("*.bpftrace.gz"))[:1]
    files = [mixed, *examples, *fixtures, *bpftrace]
    return [str(path) for path in files]


def test_the_package_runs_with_the_classic_spelling_only(tmp_path) -> None:
    from vfio_migcheck.checker.api import check_trace
    from vfio_migcheck.checker.reports.json import to_json

    files = _captures(tmp_path)
    # (without the C line scanner, which would take the skip patterns' place)
    done = subprocess.run([sys.executable, "-c", _CLASSIC_RUN, str(ROOT), *files],
                          capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, VFIO_MIGCHECK_NO_C_SCAN="1"))
    assert done.returncode == 0, done.stderr[-3000:]
    classic_results = json.loads(done.stdout)
    assert classic_results["skip patterns built"] > 0   # the strace scan ran, classic
    assert any(path.endswith(".bpftrace.gz") for path in files)
    for path in files:
        native = json.loads(json.dumps(to_json([check_trace(path, observations=False)]),
                                       default=str))
        assert classic_results[path] == native, path
        assert not native["traces"][0]["error"], (path, native["traces"][0]["error"])
