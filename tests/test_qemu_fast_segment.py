"""``fast_segment`` must find exactly the segment the general search finds, or step aside.

Lines are built from every prefix style (TID@SEC.USEC:, ISO with and without fraction,
message context, none, impossible dates, long numbers), known and unknown event names,
one or two blanks before the device, bodies that mention other records, glued records
and wrapper text; plus every line of the QEMU logs under tests/
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vfio_migcheck.traces.events import ReadSummary
from vfio_migcheck.traces.qemu import reader as qemu
from vfio_migcheck.traces.qemu.lines import fast_segment, find_segments, general_segments

ROOT = Path(__file__).resolve().parent.parent

prefixes = st.sampled_from([
    "", "4030@1767225600.123456:", "1@2.3:", "4030@1767225600.:", "@1.2:", "x4030@1.2:",
    "1" * 19 + "@1.2:", "2026-01-01T00:00:00.101430Z ", "2026-01-01T00:00:00Z ",
    "2026-13-01T00:00:00.1Z ", "2026-01-01T00:00:00.101430Z  ", "2026-02-30T00:00:00.5Z ",
    "qemu-system-x86_64(4030:worker): ", "[vm1] qemu(1): ", "wrapper text ",
    "2026-01-01T00:00:00.1" + "0" * 45 + "Z ", "٣@1.2:"])
names = st.sampled_from([
    "vfio_save_block", "vfio_state_pending", "vfio_save_iterate_start",
    "vfio_migration_set_state", "vfio_region_read", "vfio_save_blockx", "vfio_", "vfio_x",
    "vfio_vfio_save_block", "vm_state_notify", "migrate_set_state"])
gaps = st.sampled_from(["  (", " (", "   (", "(", "  ", " ", "   "])
bodies = st.sampled_from([
    "0000:3b:00.1) data_size 1048576", "0000:3b:00.1)", "dev) state RUNNING",
    "vfio_pci0) data_size 1", "d) x vfio_save_block  (d) data_size 2",
    "d) vm_state_notify running 1", "d) data_size 1 ", "d) data_size 1\t",
    "d) new state PRE_COPY, recover state RUNNING", "d",
    # device-less records (vm_state_notify, migrate_set_state) and near misses
    "running 1 reason 9 (running)", "running 0 reason 7 (finish-migrate)", "running x",
    "new state setup", "new state active", "new state cancelled", "new statex",
    "new state setup migrate_set_state  new state active",
    "running 1 reason 9 (running) vm_state_notify running 0", "new state vfio_x",
    "new state setup vm_state_notify running 1 reason 9 (running)"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prefixes, names, gaps, bodies, st.sampled_from(["", " ", "  trailing"]))
def test_fast_segment_agrees_with_the_general_search(prefix, name, gap, body, tail) -> None:
    line = prefix + name + gap + body + tail
    fast = fast_segment(line)
    if fast is not None:
        assert [fast] == general_segments(line), line
    assert find_segments(line) == general_segments(line), line


def test_bundled_logs_agree_and_mostly_take_the_fast_path() -> None:
    taken = total = 0
    for path in sorted((ROOT / "tests").rglob("*.log")):
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            total += 1
            fast = fast_segment(line)
            if fast is not None:
                taken += 1
                assert [fast] == general_segments(line), line
    assert total > 100 and taken > total // 4, (taken, total)


# --- whole lines: the reader's hot path against its general path -----------------------------


def _both_ways(lines: list[str], era: str | None) -> tuple[list, list]:
    """(hot, general): each line's events by hot_event (where it answers) and by
    _line_events, with the summaries; a line read before is read again (records repeat)."""
    out = []
    for hot in (True, False):
        summary = ReadSummary(format="qemu")
        events = []
        for number, text in enumerate([*lines, *lines], start=1):
            event = qemu.hot_event(text, "q.log", number, era) if hot else None
            if event is not None:
                summary.lines += 1
                summary.events += 1
                made = [event]
            else:
                made = qemu._line_events(summary, "q.log", number, text, era, False)
            events.extend((e, e.text, e.to_json()) for e in made)
        out.append((events, summary.to_json()))
    return out[0], out[1]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(prefixes, names, gaps, bodies, st.sampled_from(["", " ", "  x"])),
                min_size=1, max_size=5), st.sampled_from([None, "v1", "v2"]))
def test_hot_lines_read_alike(parts, era) -> None:
    hot, general = _both_ways(["".join(p) for p in parts], era)
    assert hot == general


def test_test_logs_read_alike_and_most_take_the_hot_path() -> None:
    lines = [line for path in sorted((ROOT / "tests").rglob("*.log"))
             for line in path.read_text(encoding="utf-8", errors="replace").splitlines()]
    hot, general = _both_ways(lines, "v2")
    assert hot == general
    assert sum(qemu.hot_event(line, "q", 1, "v2") is not None for line in lines) > 100


def test_device_less_records_take_the_fast_path_when_alone() -> None:
    for line in ("2026-01-01T00:00:00.117581Z migrate_set_state new state setup",
                 "4030@1767225600.123456:vm_state_notify running 1 reason 9 (running)",
                 "2026-01-01T00:00:00Z vm_state_notify  running 0 reason 7 (finish-migrate)"):
        fast = fast_segment(line)
        assert fast is not None and [fast] == general_segments(line), line
    for line in ("2026-01-01T00:00:00.5Z migrate_set_state new state setup vm_state_notify",
                 "2026-01-01T00:00:00.5Z migrate_set_state new state vfio_save_block (d)",
                 "1@2.3:migrate_set_state new state a migrate_set_state new state b",
                 "x 1@2.3:migrate_set_state new state setup"):
        assert fast_segment(line) is None, line
        assert find_segments(line) == general_segments(line), line
