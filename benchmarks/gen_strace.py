"""Generate large QEMU-like strace captures for the reader benchmark.

Two shapes:

* ``mixed`` (default): what ``strace -f -ttt -T -y -o FILE`` of a migrating QEMU looks
  like — vCPU threads in ``KVM_RUN`` ioctls, the main loop in ``ppoll`` with eventfd
  reads/writes, ``futex`` traffic, calls split into ``<unfinished ...>``/``<... resumed>``
  pairs between threads, and a few percent of VFIO lines: the device setup, FEATURE
  ioctls, PRECOPY_INFO and reads of the migration data fd, QEMU trace lines written to
  stderr, the close.
* ``dense``: almost only VFIO lines (a migration loop driving several devices).

Usage: python benchmarks/gen_strace.py OUT --lines 1000000 [--dense] [--seed N]
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Iterator
from pathlib import Path

FEATURE = "VFIO_DEVICE_FEATURE or VFIO_IOMMU_DIRTY_PAGES or VFIO_IOMMU_SPAPR_REGISTER_MEMORY"
PRECOPY = "VFIO_EEH_PE_OP or VFIO_MIG_GET_PRECOPY_INFO"
MAIN = 4242
VCPUS = [4250, 4251, 4252, 4253]
MIGRATION_THREAD = 4260


class Capture:
    """Line formatter with a monotonic epoch clock."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.now = 1767225600.0

    def stamp(self) -> str:
        self.now += self.rng.uniform(0.000002, 0.00004)
        return f"{self.now:.6f}"

    def dur(self) -> str:
        return f"<{self.rng.uniform(0.000001, 0.0003):.6f}>"

    def line(self, tid: int, body: str, timed: bool = True) -> str:
        tail = f" {self.dur()}" if timed else ""
        return f"{tid:<5} {self.stamp()} {body}{tail}\n"


def setup_lines(cap: Capture, devices: int) -> Iterator[str]:
    """QEMU start: execve, eventfds, KVM, the VFIO container/group/device fds."""
    yield cap.line(MAIN, 'execve("/usr/bin/qemu-system-x86_64", ["qemu-system-x86_64", '
                   '"-trace", "vfio_*"], 0x7ffd1d1c0b58 /* 24 vars */) = 0')
    yield cap.line(MAIN, 'openat(AT_FDCWD</>, "/dev/kvm", O_RDWR|O_CLOEXEC) = 3</dev/kvm>')
    yield cap.line(MAIN, "ioctl(3</dev/kvm>, KVM_CREATE_VM, 0) = 4<anon_inode:kvm-vm>")
    for index in range(4):
        fd = 5 + index
        yield cap.line(MAIN, f"eventfd2(0, EFD_CLOEXEC|EFD_NONBLOCK) = {fd}<anon_inode:[eventfd]>")
    for index, _ in enumerate(VCPUS):
        fd = 9 + index
        yield cap.line(MAIN, f"ioctl(4<anon_inode:kvm-vm>, KVM_CREATE_VCPU, {index}) = "
                       f"{fd}<anon_inode:kvm-vcpu:{index}>")
    yield cap.line(MAIN, 'openat(AT_FDCWD</>, "/dev/vfio/vfio", O_RDWR|O_CLOEXEC) = '
                   "20</dev/vfio/vfio>")
    for dev in range(devices):
        group_fd = 21 + 2 * dev
        dev_fd = 22 + 2 * dev
        yield cap.line(MAIN, f'openat(AT_FDCWD</>, "/dev/vfio/{40 + dev}", O_RDWR|O_CLOEXEC) = '
                       f"{group_fd}</dev/vfio/{40 + dev}>")
        yield cap.line(MAIN, f"ioctl({group_fd}</dev/vfio/{40 + dev}>, VFIO_GROUP_SET_CONTAINER,"
                       " 0x7ffd1d1be2ac) = 0")
        yield cap.line(MAIN, f"ioctl({group_fd}</dev/vfio/{40 + dev}>, VFIO_GROUP_GET_DEVICE_FD,"
                       f' 0x55d0c8a3e2f0) = {dev_fd}')
        yield cap.line(MAIN, f"ioctl({dev_fd}<anon_inode:[vfio-device]>, {FEATURE}, "
                       "0x7ffd1d1be1f0) = 0")
    for tid in VCPUS:
        yield cap.line(MAIN, "clone3({flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|"
                       "CLONE_THREAD|CLONE_SYSVSEM|CLONE_SETTLS|CLONE_PARENT_SETTID|"
                       "CLONE_CHILD_CLEARTID, child_tid=0x7f0c3bfff910, parent_tid="
                       f"0x7f0c3bfff910, exit_signal=0, stack=0x7f0c3b7ff000, stack_size="
                       f"0x7fff00, tls=0x7f0c3bfff640}} => {{parent_tid=[{tid}]}}, 88) = {tid}")
    yield cap.line(MAIN, "clone3({flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|"
                   "CLONE_THREAD|CLONE_SYSVSEM|CLONE_SETTLS|CLONE_PARENT_SETTID|"
                   "CLONE_CHILD_CLEARTID, child_tid=0x7f0c3a7fd910, parent_tid=0x7f0c3a7fd910, "
                   "exit_signal=0, stack=0x7f0c39ffd000, stack_size=0x7fff00, tls="
                   f"0x7f0c3a7fd640}} => {{parent_tid=[{MIGRATION_THREAD}]}}, 88) = "
                   f"{MIGRATION_THREAD}")


def noise_lines(cap: Capture) -> Iterator[str]:
    """One burst of the VMM's everyday system calls (no VFIO)."""
    rng = cap.rng
    choice = rng.random()
    if choice < 0.45:
        index = rng.randrange(len(VCPUS))
        yield cap.line(VCPUS[index], f"ioctl({9 + index}<anon_inode:kvm-vcpu:{index}>, "
                       "KVM_RUN, 0) = 0")
    elif choice < 0.6:
        yield cap.line(MAIN, "ppoll([{fd=5<anon_inode:[eventfd]>, events=POLLIN}, "
                       "{fd=6<anon_inode:[eventfd]>, events=POLLIN}, {fd=7<anon_inode:"
                       "[eventfd]>, events=POLLIN}], 3, {tv_sec=0, tv_nsec=999000}, NULL, 8) = 1 "
                       "([{fd=5, revents=POLLIN}], left {tv_sec=0, tv_nsec=998000})")
    elif choice < 0.72:
        fd = 5 + rng.randrange(4)
        yield cap.line(MAIN, f'read({fd}<anon_inode:[eventfd]>, "\\1\\0\\0\\0\\0\\0\\0\\0", 16)'
                       " = 8")
    elif choice < 0.8:
        fd = 5 + rng.randrange(4)
        yield cap.line(VCPUS[rng.randrange(len(VCPUS))], f"write({fd}<anon_inode:[eventfd]>, "
                       '"\\1\\0\\0\\0\\0\\0\\0\\0", 8) = 8')
    elif choice < 0.9:
        a, b = rng.sample(VCPUS, 2)
        yield cap.line(a, "futex(0x55d0c7f3a1e8, FUTEX_WAIT_PRIVATE, 2, NULL <unfinished ...>",
                       timed=False)
        yield cap.line(b, "futex(0x55d0c7f3a1e8, FUTEX_WAKE_PRIVATE, 1) = 1")
        yield cap.line(a, "<... futex resumed>) = 0")
    elif choice < 0.95:
        yield cap.line(MAIN, "ppoll([{fd=5<anon_inode:[eventfd]>, events=POLLIN}], 1, "
                       "{tv_sec=0, tv_nsec=500000}, NULL, 8 <unfinished ...>", timed=False)
        index = rng.randrange(len(VCPUS))
        yield cap.line(VCPUS[index], f"ioctl({9 + index}<anon_inode:kvm-vcpu:{index}>, "
                       "KVM_RUN, 0) = 0")
        yield cap.line(MAIN, "<... ppoll resumed>) = 0 (Timeout)")
    else:
        yield cap.line(MIGRATION_THREAD, "madvise(0x7f0c2c000000, 2097152, MADV_DONTNEED) = 0")


def vfio_session_lines(cap: Capture, devices: int, reads: int) -> Iterator[str]:
    """One saving round: SET PRE_COPY, PRECOPY_INFO + reads, trace lines, STOP_COPY, close."""
    rng = cap.rng
    for dev in range(devices):
        dev_fd = 22 + 2 * dev
        data_fd = 30 + dev
        name = f"0000:3b:00.{dev}"
        yield cap.line(MIGRATION_THREAD, f'write(2</dev/pts/0<char 136:0>>, "vfio_migration_set_'
                       f'state  ({name}) new state PRE_COPY, recover state ERROR\\n", '
                       f"{70 + len(name)}) = {70 + len(name)}")
        yield cap.line(MIGRATION_THREAD, f"ioctl({dev_fd}<anon_inode:[vfio-device]>, {FEATURE}, "
                       "0x7f0c3a7fc5d0) = 0")
        for _ in range(reads):
            yield cap.line(MIGRATION_THREAD, f"ioctl({data_fd}<anon_inode:mlx5vf_mig>, "
                           f"{PRECOPY}, 0x7f0c3a7fc5e0) = 0")
            size = rng.choice((1048576, 524288, 4096))
            yield cap.line(MIGRATION_THREAD, f'read({data_fd}<anon_inode:mlx5vf_mig>, "\\x01\\x02'
                           f'\\x03\\x04"..., 1048576) = {size}')
        yield cap.line(MIGRATION_THREAD, f"ioctl({dev_fd}<anon_inode:[vfio-device]>, {FEATURE}, "
                       "0x7f0c3a7fc5d0) = 0")
        yield cap.line(MIGRATION_THREAD, f"read({data_fd}<anon_inode:mlx5vf_mig>, "
                       "0x7f0c28000000, 1048576) = -1 ENOMSG (No message of desired type)")
        yield cap.line(MIGRATION_THREAD, f"close({data_fd}<anon_inode:mlx5vf_mig>) = 0")


def generate(path: Path, lines: int, dense: bool, seed: int) -> int:
    rng = random.Random(seed)
    cap = Capture(rng)
    devices = 4 if dense else 2
    written = 0
    with open(path, "w", encoding="utf-8") as out:
        for text in setup_lines(cap, devices):
            out.write(text)
            written += 1
        while written < lines:
            if dense or rng.random() < 0.0015:
                burst = vfio_session_lines(cap, devices, reads=rng.randrange(2, 12))
            else:
                burst = noise_lines(cap)
            for text in burst:
                out.write(text)
                written += 1
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--dense", action="store_true", help="almost only VFIO lines")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    count = generate(args.out, args.lines, args.dense, args.seed)
    print(f"{args.out}: {count} lines")


if __name__ == "__main__":
    main()
