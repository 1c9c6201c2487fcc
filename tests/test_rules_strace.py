"""Rules that plain strace can show, triggered (and narrowly missed) in strace form."""

from __future__ import annotations

from pathlib import Path

import pytest

from vfio_migcheck.checker.api import check_trace

DEV = "5<anon_inode:[vfio-device]>"
DATA = "6<anon_inode:mtty_mig>"
FEATURE = (f"ioctl({DEV}, VFIO_DEVICE_FEATURE or VFIO_IOMMU_DIRTY_PAGES or "
           "VFIO_IOMMU_SPAPR_REGISTER_MEMORY, 0x7fff83c86570) = 0")
HEAD = [
    'openat(AT_FDCWD</>, "/dev/vfio/0", O_RDWR) = 4</dev/vfio/0>',
    "ioctl(4</dev/vfio/0>, VFIO_GROUP_GET_DEVICE_FD, 0x4bf160) = 5",
    FEATURE,
]
PRECOPY = f"ioctl({DATA}, VFIO_EEH_PE_OP, 0x7fff83c84940) = 0"
TAIL = [f"close({DATA}) = 0", f"close({DEV}) = 0", "+++ exited with 0 +++"]

CASES = {
    # rule: (lines that trigger it, the near miss)
    "U007": ([FEATURE, f'read({DATA}, "ab", 16) = 2', f"ioctl({DEV}, VFIO_DEVICE_RESET, 0) = 0",
              f"read({DATA}, 0x7fff, 16) = -1 ENODEV (No such device)"],
             [FEATURE, f'read({DATA}, "ab", 16) = 2', f"ioctl({DEV}, VFIO_DEVICE_RESET, 0) = 0"]),
    "K007": ([FEATURE, f'read({DATA}, "ab", 16) = 2', f"ioctl({DEV}, VFIO_DEVICE_RESET, 0) = 0",
              f'read({DATA}, "cd", 16) = 2'],
             [FEATURE, f'read({DATA}, "ab", 16) = 2', f'read({DATA}, "cd", 16) = 2']),
    "U016": ([FEATURE, f'read({DATA}, "ab", 16) = 2',
              f"lseek({DATA}, 0, SEEK_SET) = -1 ESPIPE (Illegal seek)"],
             [FEATURE, f'read({DATA}, "ab", 16) = 2']),
    "K004": ([FEATURE, PRECOPY, f'read({DATA}, "", 16) = 0'],
             [FEATURE, PRECOPY, f"read({DATA}, 0x7fff, 16) = -1 ENOMSG (No message of desired "
                                "type)"]),
    "U006": ([FEATURE, PRECOPY, f'write({DATA}, "x", 1) = -1 EBADF (Bad file descriptor)'],
             [FEATURE, PRECOPY, f'read({DATA}, "x", 1) = 1']),
    "U009": ([FEATURE, f'write({DATA}, "abcd", 4) = 4',
              f"ioctl({DATA}, VFIO_EEH_PE_OP, 0x7fff) = -1 ENOTTY (Inappropriate ioctl for "
              "device)"],
             [FEATURE, f'write({DATA}, "abcd", 4) = 4']),
    "K009": ([FEATURE, f'write({DATA}, "abcd", 4) = 4', PRECOPY],
             [FEATURE, f'read({DATA}, "abcd", 4) = 4', PRECOPY]),
}


def capture(tmp_path: Path, name: str, body: list[str]) -> Path:
    path = tmp_path / f"{name}.strace"
    path.write_text("".join(f"100   {line}\n" for line in [*HEAD, *body, *TAIL]))
    return path


def rules_of(path: Path, driver: str | None = None) -> list[str]:
    result = check_trace(path, spec="linux-6.12", driver=driver)
    assert result.error is None and not result.read_summary.get("unreadable")
    return [f.rule for f in result.findings]


@pytest.mark.parametrize("rule", sorted(CASES))
def test_triggers_in_strace_form(rule: str, tmp_path: Path) -> None:
    # the data fd is named anon_inode:mtty_mig: mtty's read() == 0 (K004) is expected with
    # its profile, so K004 shows in the generic reading
    driver = "generic" if rule == "K004" else None
    assert rule in rules_of(capture(tmp_path, "bad", CASES[rule][0]), driver)


@pytest.mark.parametrize("rule", sorted(CASES))
def test_near_miss_in_strace_form(rule: str, tmp_path: Path) -> None:
    assert rule not in rules_of(capture(tmp_path, "good", CASES[rule][1]))
