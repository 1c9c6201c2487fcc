"""QEMU trace records inside strace writes: the payload memo of traces/strace/io_calls.py.

A payload seen before takes its remembered events with the call's origin, pid, tid and
timestamp set afresh; these tests hold that to a fresh parse of the same payload for
every record shape (device records with and without QEMU's pid@time prefix, generic and
broken records, QMP events, error reports) and every combination of given and missing
tid and timestamp.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from vfio_migcheck.traces.events import Origin
from vfio_migcheck.traces.qemu.reader import parse_qemu_text
from vfio_migcheck.traces.strace.io_calls import _qemu_events

_PAYLOADS = [
    "vfio_save_block  (0000:3b:00.1) data_size 1048576\n",
    "vfio_migration_set_state  (0000:3b:00.1) new state STOP_COPY, recover state ERROR\n",
    "vfio_migration_set_device_state  (0000:3b:00.1) state PRE_COPY_P2P\n",
    "4030@1767225600.200000:vfio_save_block  (0000:3b:00.1) data_size 1048576\n",
    "12@1700000000.000001:vfio_migration_set_state (x) state 2\n",
    "5@1.5:vfio_region_read  (0000:00:02.0:region0+0x0, 4) = 0x1\n",
    "vfio_migration_init  (0000:3b:00.1) mig_flags 0x7, precopy_info_v2_used 1, "
    "dirty_pages_supported 1\n",
    "5@1.5:vfio_save_setup",                       # cut by strace -s
    "vfio_save_cleanup  (a)\nvfio_load_cleanup  (b)\n",
    "qemu-system-x86_64: vfio: 0000:3b:00.1: Failed setting device state to STOP_COPY, "
    "err: Input/output error. Setting device in recover state ERROR\n",
    '{"event": "VFIO_MIGRATION", "data": {"device-id": "d0", "qom-path": "/machine/d0", '
    '"device-state": "stop-copy"}, "timestamp": {"seconds": 1, "microseconds": 2}}\n',
]


def _shown(events: list) -> list:
    return [(type(event).__name__, event.to_json(), event.text) for event in events]


@settings(max_examples=120, deadline=None)
@given(payload=st.sampled_from(_PAYLOADS), line=st.integers(1, 10**6),
       pid=st.one_of(st.none(), st.integers(1, 99999)),
       tid=st.one_of(st.none(), st.integers(1, 99999)),
       ts=st.one_of(st.none(), st.floats(0, 2e9, allow_nan=False)),
       earlier=st.tuples(st.integers(1, 10**6), st.one_of(st.none(), st.integers(1, 9)),
                         st.one_of(st.none(), st.floats(0, 9, allow_nan=False))))
def test_a_remembered_payload_gives_the_events_of_a_fresh_parse(payload, line, pid, tid, ts,
                                                                earlier) -> None:
    first_line, first_tid, first_ts = earlier
    # the same payload met before, elsewhere, with or without a tid and a timestamp
    _qemu_events(parse_qemu_text, payload, Origin("t.strace", first_line), 7, first_tid,
                 first_ts)
    origin = Origin("t.strace", line, line + 3)
    got = _qemu_events(parse_qemu_text, payload, origin, pid, tid, ts)
    want = parse_qemu_text(payload, origin, pid=pid, tid=tid, ts=ts)
    assert _shown(got) == _shown(want)
    assert got == want


def test_remembered_events_do_not_share_their_fields() -> None:
    payload = _PAYLOADS[0]
    first = _qemu_events(parse_qemu_text, payload, Origin("t", 1), 1, 2, 3.0)
    again = _qemu_events(parse_qemu_text, payload, Origin("t", 2), 1, 2, 4.0)
    assert first and again[0].fields == first[0].fields
    assert again[0].fields is not first[0].fields
    assert (again[0].origin.line, again[0].ts) == (2, 4.0)
