"""The canonical fast path must build exactly lark's statement, or leave the line to lark.

For every line: ``fast_statement`` returns None, or a statement equal to the one the
grammar builds (words, columns, fields, result, time, thread, duration); where the grammar
rejects a line the fast path must not accept it. Lines come from the corpus ground truth,
the bundled examples, token soups of the format's own words and damaged real lines.
"""

from __future__ import annotations

import gzip
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vfio_migcheck.traces.canonical.fastline import fast_statement
from vfio_migcheck.traces.canonical.syntax import LineError, _parser, parse_statement

ROOT = Path(__file__).resolve().parent
EXAMPLES = ROOT.parent / "vfio_migcheck" / "examples"


def _lines(path: Path) -> list[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return [line.rstrip("\n") for line in handle]


REAL = sorted({line for path in [*sorted(EXAMPLES.glob("*.vmc")),
                                 *sorted((ROOT / "corpus").glob("lab-mtty-6.12/*/*.canon.gz"))]
               for line in _lines(path) if line.strip() and not line.startswith("#")})


def grammar(text: str):
    try:
        return _parser().parse(text)
    except Exception:  # noqa: BLE001 - any rejection: the fast path must reject too
        return None


def agree(text: str) -> bool:
    """Check one line; True when the fast path read it (for the coverage assertion)."""
    fast = fast_statement(text)
    if fast is None:
        return False
    slow = grammar(text)
    assert slow is not None, f"fast path accepted a line the grammar rejects: {text!r}"
    assert fast == slow, text
    return True


def test_every_real_line_agrees_and_most_take_the_fast_path() -> None:
    fast = sum(agree(line) for line in REAL)
    assert len(REAL) > 500
    assert fast > 0.9 * len(REAL), (fast, len(REAL))


def test_parse_statement_is_unchanged_for_the_fast_lines() -> None:
    line = "@12.5 [4/7] 0000:3b:00.1 SET STATE STOP argsz=16 = -1 EINVAL data_fd=- <0.5>"
    assert fast_statement(line) == parse_statement(line)
    assert fast_statement(line).result.errno == "EINVAL"


WORDS = ["device", "fd", "qemu", "process", "src", "0000:3b:00.1", "GET", "SET", "PROBE",
         "RESET", "access", "close", "STATE", "MIGRATION", "?", "-", "=", "0", "-1", "6",
         "0x7", "0xg", "EINVAL", "read", "write", "dup2", "appeared", "data_fd=6", "state=",
         "flags=P2P", "how=exit", "[1]", "[1/-]", "[1/2]", "[-1/0x3]", "@1.5", "@-2e3",
         "<0.1>", "<1.>", "#", "# c", "|", "9999", "PRE_COPY", "ops=GET", "new=STOP",
         "after=f:1", "ready=yes", "007", "[007]", "@1e999", "<1e999>", "0x", "state=007",
         "flags=010", "-0x1", "target=-", "size=?", "initial=1", "precopy_info", "poll",
         "ioctl", "a=b=c", "x=<1>", "=0", "ENOMSG", "ABC=1", "12345678901234567890123",
         "argsz=16", "\t", "set_state", "\x0b", "é", '"q"', "1048576", "a/b", "-x"]


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(WORDS), max_size=12), st.sampled_from([" ", "  ", "\t"]))
def test_token_soups_agree(words: list[str], blank: str) -> None:
    agree(blank.join(words))


SHAPES = [
    "@{t} [{p}] fd {n} read {n} = {n}",
    "@{t} [{p}] fd {n} precopy_info argsz={n} = {n} initial={n} dirty={n}",
    "@{t} [{p}] {d} SET STATE {s} argsz={n} = {n} data_fd={n} <{t}>",
    "@{t} [{p}] {d} GET MIGRATION argsz={n} = {n} flags={s}",
    "{d} SET STATE {s} = {n} {e}",
    "fd {n} close = {n}",
    "device {d} fd={n} flags={s} state={s}",
    "qemu {d} vfio_save_block data_size={n}",
    "process exit status={n}",
]


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(SHAPES), st.sampled_from(["1.5", "0", "-3", "1e5", "7."]),
       st.sampled_from(["4242", "1/2", "0x10/-", "-1"]),
       st.sampled_from(["0", "45", "-1", "0x1f", "007", "?", "99999999999999999999999"]),
       st.sampled_from(["src", "0000:3b:00.1", "gpu0", "a.b-c/d", "fd", "GET"]),
       st.sampled_from(["STOP", "PRE_COPY", "STOP_COPY|P2P", "?", "-"]),
       st.sampled_from(["EINVAL", "?", "-", "E2BIG"]),
       st.integers(0, 80), st.integers(0, 4), st.text(max_size=3))
def test_damaged_shapes_agree(shape, t, p, n, d, s, e, at, cut, insert) -> None:
    line = shape.format(t=t, p=p, n=n, d=d, s=s, e=e)
    agree(line)
    at = min(at, len(line))
    agree((line[:at] + insert + line[at + cut:]).replace("\n", " "))


def test_lines_the_grammar_rejects_stay_with_the_grammar() -> None:
    for line in ("fd 5 read 4 = 99999999999999999999999999999999999999999999",
                 "@1e999 fd 5 close = 0", "src SET STATE STOP a=1 a=2 = 0", "fd 5 read ="):
        assert fast_statement(line) is None
        try:
            parse_statement(line)
        except LineError:
            pass
