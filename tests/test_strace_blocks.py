"""The strace reader's block decoder (traces/strace/lines.py) against its line-by-line twin.

``iter_text_blocks`` hands clean blocks over as one string with a newline on each side
(decoded straight from the bytes read, the newline before the block carried over) and
every other block line by line; whatever the block size, the lines, their numbers and the
verdicts on bad lines must be those of ``iter_text_lines``.
"""

from __future__ import annotations

import io

from hypothesis import given, settings
from hypothesis import strategies as st

from vfio_migcheck.traces.lines import MAX_LINE_BYTES, BadLine
from vfio_migcheck.traces.strace import lines
from vfio_migcheck.traces.strace.lines import CLEAN, iter_text_blocks, iter_text_lines

_PIECES = [b"4242  1767225600.000034 futex(0x5, FUTEX_WAKE_PRIVATE, 1) = 1 <0.000231>",
           b"ioctl(9<anon_inode:kvm-vcpu:0>, KVM_RUN <unfinished ...>", b"", b"x",
           b"caf\xc3\xa9", b"bad \xff byte", b"nul \x00 byte", b"cr\r", b"cut \xc3",
           b"write(2, \"vfio\", 4) = 4"]


def _items_of_blocks(path, counting: bool = False) -> list:
    """The lines as the blocks give them; with ``counting``, the consumer counts the clean
    blocks' lines itself and tells iter_text_blocks (as the strace reader does)."""
    out: list = []
    number = 0
    told = [0]
    with lines.open_binary(path) as handle:
        for kind, payload in iter_text_blocks(handle, (lambda: told[0]) if counting else None):
            told[0] = -1   # asked only between blocks: a stale answer would show
            if kind == CLEAN:
                assert payload[0] == "\n" and payload[-1] == "\n"
                for text in payload[1:-1].split("\n"):
                    number += 1
                    out.append((number, text))
            else:
                for item in payload:
                    number = item[0] if type(item) is tuple else item.number
                    out.append(item)
            told[0] = number
    return out


@settings(max_examples=150, deadline=None)
@given(pieces=st.lists(st.sampled_from(_PIECES), max_size=40), final_newline=st.booleans(),
       size=st.integers(min_value=1, max_value=90))
def test_blocks_give_the_lines_of_the_line_reader(pieces, final_newline: bool, size: int,
                                                  tmp_path_factory) -> None:
    path = tmp_path_factory.mktemp("blocks") / "t.strace"
    data = b"\n".join(pieces) + (b"\n" if final_newline and pieces else b"")
    path.write_bytes(data)
    saved = lines.BLOCK_BYTES
    lines.BLOCK_BYTES = size
    try:
        got = _items_of_blocks(path)
        counted = _items_of_blocks(path, counting=True)
    finally:
        lines.BLOCK_BYTES = saved
    assert got == list(iter_text_lines(path))
    assert counted == got


def test_an_enormous_line_between_clean_blocks(tmp_path) -> None:
    path = tmp_path / "big.strace"
    head = b"getpid() = 1\n" * 30_000
    path.write_bytes(head + b"a" * (MAX_LINE_BYTES + 10) + b"\n" + head)
    got = _items_of_blocks(path)
    assert got == list(iter_text_lines(path))
    assert _items_of_blocks(path, counting=True) == got
    assert isinstance(got[30_000], BadLine) and got[30_000].number == 30_001
    assert got[-1] == (60_001, "getpid() = 1")


def test_an_unterminated_last_line_is_judged_alone() -> None:
    handle = io.BytesIO(b"getpid() = 1\ngetpid(")
    kinds = [kind for kind, _ in iter_text_blocks(handle)]
    assert kinds == [CLEAN, lines.RAW]
