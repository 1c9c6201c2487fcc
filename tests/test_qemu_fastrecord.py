"""The QEMU record fast path must give the grammar's record, or leave the record to it.

For every record body: ``fast_record`` returns None, or exactly what the grammar alone
(``grammar_record``) builds — shape, device, every value under the same name; where the
grammar rejects a body the fast path must not accept it. Bodies come from the fixture
logs, from the grammar's own shapes with random numbers and values, and damaged versions.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vfio_migcheck.traces.qemu.fastrecord import fast_record
from vfio_migcheck.traces.qemu.lines import find_segments
from vfio_migcheck.traces.qemu.syntax import Record, RecordError, grammar_record

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "qemu"
BODIES = sorted({segment.body for path in sorted(FIXTURES.glob("*.log"))
                 for line in path.read_text(errors="replace").splitlines()
                 for segment in find_segments(line)})


def by_grammar(body: str) -> Record | None:
    try:
        return grammar_record(body)
    except RecordError:
        return None


def agree(body: str) -> bool:
    fast = fast_record(body)
    if fast is None:
        return False
    slow = by_grammar(body)
    assert slow is not None, f"fast path accepted a record the grammar rejects: {body!r}"
    assert Record(*fast) == slow, body
    return True


def test_fixture_records_agree_and_many_take_the_fast_path() -> None:
    taken = sum(agree(body) for body in BODIES)
    assert len(BODIES) > 50
    assert taken > len(BODIES) // 3, (taken, len(BODIES))


def test_a_blank_device_text_reads_as_no_device_both_ways() -> None:
    """One blank between the parentheses tied the grammar's lexer between the device text
    and the ignored blank, so the grammar rejected what the fast path read (two blanks
    were a device text already); found by the hypothesis test below."""
    for body in ["vfio_save_cleanup ( ) ", "vfio_save_block ( ) data_size 5"]:
        assert agree(body)
        assert by_grammar(body).device == ""


SHAPES = [
    "vfio_migration_set_state {dev}new state {v}, recover state {v}",
    "vfio_migration_set_device_state {dev}state {v}",
    "vfio_save_block {dev}data_size {n}",
    "vfio_save_setup {dev}data buffer size {n}",
    "vfio_query_stop_copy_size {dev}stopcopy size {n} ret {n}",
    "vfio_state_pending {dev}stopcopy size {n}, precopy initial size {n}, precopy dirty size "
    "{n}, request switchover ack {n}, exact {n}, final {n}",
    "vfio_save_iterate {dev}precopy initial size {n} precopy dirty size {n}",
    "vfio_migration_init {dev}mig_flags {n}, precopy_info_v2_used {n}, dirty_pages_supported {n}",
    "vfio_load_state {dev}data {n}",
    "vfio_save_cleanup {dev}",
    "vfio_migration_state_notifier {dev}state {v}",
    "vfio_save_pending {dev}precopy {n} postcopy {n} stopcopy size {n}",
    "vfio_load_state_device_data {dev}Offset {n} size {n} pending {n}",
    "vfio_vmstate_change {dev}running {n} reason {v} device state {v}",
]
NUMBERS = st.sampled_from(["0", "7", "-1", "0x1f", "0X1F", "1048576", "12.5", "1e3", "0x",
                           "99999999999999999999999999999999999999999"])
VALUES = st.sampled_from(["STOP", "STOP_COPY", "PRE_COPY_P2P", "UNKNOWN STATE", "UNKNOWN",
                          "finish-migrate", "3", "state", "x_y-z", "_x", "", "STOP,"])
DEVICES = st.sampled_from(["(0000:3b:00.1) ", " (0000:3b:00.1) ", "( d ) ", "() ", "",
                           "(a(b)) ", "(x)"])


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(SHAPES), DEVICES, st.lists(NUMBERS, min_size=6, max_size=6),
       st.lists(VALUES, min_size=2, max_size=2), st.integers(0, 90), st.integers(0, 4),
       st.text(alphabet=" ,()\tx0-", max_size=3))
def test_shapes_and_damaged_shapes_agree(shape, dev, numbers, values, at, cut, insert) -> None:
    body = shape.replace("{dev}", dev)
    for n in numbers:
        body = body.replace("{n}", n, 1)
    for v in values:
        body = body.replace("{v}", v, 1)
    body = body.replace("{n}", "1").replace("{v}", "STOP")
    agree(body)
    at = min(at, len(body))
    agree(body[:at] + insert + body[at + cut:])


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(BODIES), st.integers(0, 120), st.integers(0, 4), st.text(max_size=3))
def test_damaged_fixture_records_agree(body: str, at: int, cut: int, insert: str) -> None:
    at = min(at, len(body))
    agree((body[:at] + insert + body[at + cut:]).replace("\n", " "))
