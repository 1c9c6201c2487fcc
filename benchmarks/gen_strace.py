"""Generate large captures for the benchmarks, shaped like real ones (tests/corpus, mtty-6.12).

Shapes (``--shape``):

* ``mixed`` (default): ``strace -f -ttt -T -y -o FILE`` of a migrating QEMU. The main loop
  sits in ``ppoll`` over eventfds and a QMP socket (``recvmsg``, some with ``SCM_RIGHTS``),
  vCPU threads in ``KVM_RUN`` (often split ``<unfinished ...>``/``<... resumed>`` around
  other threads' lines), an io_uring thread, ``futex`` traffic, and 1-3 % VFIO lines spread
  over the whole migration: QEMU's ``vfio_*`` trace records written to stderr, the hidden
  FEATURE ioctls, PRECOPY_INFO and data-fd reads from the migration thread (some split
  across threads), all while the main loop keeps polling with the data fd open.
* ``corpus-mixed``: the same QEMU-like traffic, but the VFIO lines are the real calls of
  the lab's mtty captures (tests/corpus/lab-mtty-6.12/f_y_tt_T, the QEMU-style flows),
  replayed one capture after the other by the migration thread, fds moved out of the way.
* ``dense``: plain ``strace -f`` (no ``-y``, no payloads), every line a VFIO call: the
  save-into-resume loop of the mtty ``migrate2`` capture (two devices, data fds found by
  allocation order), repeated.
* ``canonical``: a decoded ``.vmc`` trace, one device, every payload shown (the shape of
  the bundled ``source-precopy.vmc``), repeated migrations.
* ``qemu``: a QEMU ``-trace vfio_*`` log with ISO prefixes (the shape of QEMU 9.x source
  logs), repeated migrations with cancels back to RUNNING.

Usage: python benchmarks/gen_strace.py OUT --lines 1000000 [--shape mixed] [--seed N]
"""

from __future__ import annotations

import argparse
import gzip
import random
import re
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path

FEATURE = "VFIO_DEVICE_FEATURE or VFIO_IOMMU_DIRTY_PAGES or VFIO_IOMMU_SPAPR_REGISTER_MEMORY"
PRECOPY = "VFIO_EEH_PE_OP or VFIO_MIG_GET_PRECOPY_INFO"
MAIN = 4242
VCPUS = (4250, 4251, 4252, 4253)
IO_THREAD = 4255
MIGRATION_THREAD = 4260
DEVICE = "0000:3b:00.1"
DEV_FD, DATA_FD = 22, 31
EVENTFD = "<anon_inode:[eventfd]>"
VCPU_FD = "<anon_inode:kvm-vcpu:{}>"
DEV = "<anon_inode:[vfio-device]>"
DATA = "<anon_inode:mlx5vf_mig>"
QMP = "<socket:[77123]>"
URING = "<anon_inode:[io_uring]>"
STAMP = "\0"


class Clock:
    """A monotonic epoch clock with strace's microsecond stamps."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.now = 1767225600.0

    def stamp(self) -> str:
        self.now += self.rng.uniform(0.000002, 0.00004)
        return f"{self.now:.6f}"

    def dur(self) -> str:
        return f"<{self.rng.uniform(0.000001, 0.0003):.6f}>"


class MixedCapture:
    """Interleaves per-thread line streams the way ``strace -f`` prints them."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.clock = Clock(rng)
        self.pending: dict[int, str] = {}   # tid -> call name left unfinished

    def line(self, tid: int, body: str, timed: bool = True) -> str:
        """A line whose timestamp is filled in when it is printed (:meth:`stamped`)."""
        tail = f" {self.clock.dur()}" if timed else ""
        return f"{tid:<5} {STAMP} {body}{tail}\n"

    def stamped(self, text: str) -> str:
        return text.replace(STAMP, self.clock.stamp(), 1)

    def call(self, tid: int, name: str, head: str, tail: str, split: bool) -> list[str]:
        """One call, split into an unfinished/resumed pair when ``split`` (other lines go
        in between: the caller interleaves them)."""
        if not split:
            return [self.line(tid, f"{name}({head}{tail}")]
        return [self.line(tid, f"{name}({head} <unfinished ...>", timed=False),
                self.line(tid, f"<... {name} resumed>{tail}")]


def mixed_setup(cap: MixedCapture) -> Iterator[str]:
    line = cap.line
    yield line(MAIN, 'execve("/usr/bin/qemu-system-x86_64", ["qemu-system-x86_64", '
               '"-trace", "vfio_*"], 0x7ffd1d1c0b58 /* 24 vars */) = 0')
    yield line(MAIN, 'openat(AT_FDCWD</>, "/dev/kvm", O_RDWR|O_CLOEXEC) = 3</dev/kvm>')
    yield line(MAIN, "ioctl(3</dev/kvm>, KVM_CREATE_VM, 0) = 4<anon_inode:kvm-vm>")
    for fd in range(5, 9):
        yield line(MAIN, f"eventfd2(0, EFD_CLOEXEC|EFD_NONBLOCK) = {fd}{EVENTFD}")
    for index in range(len(VCPUS)):
        yield line(MAIN, f"ioctl(4<anon_inode:kvm-vm>, KVM_CREATE_VCPU, {index}) = "
                   f"{9 + index}{VCPU_FD.format(index)}")
    yield line(MAIN, "io_uring_setup(64, {flags=0, sq_thread_cpu=0, sq_thread_idle=0, "
               "sq_entries=64, cq_entries=128, features=IORING_FEAT_SINGLE_MMAP|"
               "IORING_FEAT_NODROP, sq_off={head=0, tail=64}, cq_off={head=128, "
               f"tail=192}}}}) = 13{URING}")
    yield line(MAIN, f"accept4(14<socket:[77000]>, NULL, NULL, SOCK_CLOEXEC) = 15{QMP}")
    yield line(MAIN, 'openat(AT_FDCWD</>, "/dev/vfio/vfio", O_RDWR|O_CLOEXEC) = '
               "20</dev/vfio/vfio>")
    yield line(MAIN, 'openat(AT_FDCWD</>, "/dev/vfio/40", O_RDWR|O_CLOEXEC) = 21</dev/vfio/40>')
    yield line(MAIN, "ioctl(21</dev/vfio/40>, VFIO_GROUP_SET_CONTAINER, 0x7ffd1d1be2ac) = 0")
    yield line(MAIN, f"ioctl(21</dev/vfio/40>, VFIO_GROUP_GET_DEVICE_FD, 0x55d0c8a3e2f0) = "
               f"{DEV_FD}{DEV}")
    yield line(MAIN, f"write(2</dev/pts/0<char 136:0>>, \"vfio_migration_init  ({DEVICE}) "
               'mig_flags 0x7, precopy_info_v2_used 1, dirty_pages_supported 1\\n", 97) = 97')
    yield line(MAIN, f"ioctl({DEV_FD}{DEV}, {FEATURE}, 0x7ffd1d1be1f0) = 0")
    for tid in (*VCPUS, IO_THREAD, MIGRATION_THREAD):
        yield line(MAIN, "clone3({flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|"
                   "CLONE_THREAD|CLONE_SYSVSEM|CLONE_SETTLS|CLONE_PARENT_SETTID|"
                   "CLONE_CHILD_CLEARTID, child_tid=0x7f0c3bfff910, parent_tid="
                   "0x7f0c3bfff910, exit_signal=0, stack=0x7f0c3b7ff000, stack_size="
                   f"0x7fff00, tls=0x7f0c3bfff640}} => {{parent_tid=[{tid}]}}, 88) = {tid}")


def mixed_noise(cap: MixedCapture) -> list[list[str]]:
    """One piece of the VMM's everyday traffic: a list of per-thread line runs that may be
    interleaved with each other (a split call's two halves are separate runs)."""
    rng = cap.rng
    choice = rng.random()
    if choice < 0.34:  # a vCPU in KVM_RUN, often split around other threads' lines
        index = rng.randrange(len(VCPUS))
        lines = cap.call(VCPUS[index], "ioctl", f"{9 + index}{VCPU_FD.format(index)}, KVM_RUN",
                         ", 0) = 0", split=rng.random() < 0.5)
        return [lines[:1], lines[1:]] if len(lines) == 2 else [lines]
    if choice < 0.52:  # the main loop: ppoll over eventfds and the QMP socket
        fds = [5, 6, 7, 15]
        polled = ", ".join(f"{{fd={fd}{QMP if fd == 15 else EVENTFD}, events=POLLIN}}"
                           for fd in fds)
        ready = rng.choice(fds)
        if rng.random() < 0.3:
            lines = cap.call(MAIN, "ppoll", f"[{polled}], {len(fds)}, {{tv_sec=0, "
                             "tv_nsec=999000}, NULL, 8", ") = 0 (Timeout)", split=True)
            return [lines[:1], lines[1:]]
        return [[cap.line(MAIN, f"ppoll([{polled}], {len(fds)}, {{tv_sec=0, tv_nsec=999000}}"
                          f", NULL, 8) = 1 ([{{fd={ready}, revents=POLLIN}}], left "
                          "{tv_sec=0, tv_nsec=998000})")]]
    if choice < 0.64:  # eventfd traffic
        fd = rng.choice((5, 6, 7, 8))
        tid = rng.choice((MAIN, *VCPUS))
        call = "read" if tid == MAIN else "write"
        size = 16 if call == "read" else 8
        return [[cap.line(tid, f'{call}({fd}{EVENTFD}, "\\1\\0\\0\\0\\0\\0\\0\\0", {size})'
                          " = 8")]]
    if choice < 0.74:  # futex between two vCPUs
        a, b = rng.sample(VCPUS, 2)
        first = cap.call(a, "futex", "0x55d0c7f3a1e8, FUTEX_WAIT_PRIVATE, 2, NULL", ") = 0",
                         split=True)
        return [[first[0], cap.line(b, "futex(0x55d0c7f3a1e8, FUTEX_WAKE_PRIVATE, 1) = 1")],
                first[1:]]
    if choice < 0.84:  # the block layer's io_uring
        return [[cap.line(IO_THREAD, f"io_uring_enter(13{URING}, {rng.randrange(1, 4)}, 0, 0, "
                          "NULL, 8) = 1")]]
    if choice < 0.92:  # QMP: recvmsg, now and then passing an fd
        if rng.random() < 0.01:
            body = (f"recvmsg(15{QMP}, {{msg_name=NULL, msg_namelen=0, msg_iov=[{{iov_base="
                    '"{\\"execute\\":\\"getfd\\",\\"arguments\\":{\\"fdname\\":\\"m\\"}}\\r\\n"'
                    ", iov_len=4096}], msg_iovlen=1, msg_control=[{cmsg_len=20, "
                    "cmsg_level=SOL_SOCKET, cmsg_type=SCM_RIGHTS, cmsg_data=[30<pipe:[88001]>]}"
                    "], msg_controllen=24, msg_flags=MSG_CMSG_CLOEXEC}, MSG_CMSG_CLOEXEC) = 49")
            return [[cap.line(MAIN, body), cap.line(MAIN, "close(30<pipe:[88001]>) = 0")]]
        if rng.random() < 0.5:
            return [[cap.line(MAIN, f"recvmsg(15{QMP}, {{msg_namelen=0}}, MSG_CMSG_CLOEXEC) = "
                              "-1 EAGAIN (Resource temporarily unavailable)")]]
        return [[cap.line(MAIN, f"recvmsg(15{QMP}, {{msg_name=NULL, msg_namelen=0, msg_iov=[{{"
                          'iov_base="{\\"execute\\":\\"query-migrate\\"}\\r\\n", iov_len=4096}'
                          "], msg_iovlen=1, msg_controllen=0, msg_flags=MSG_CMSG_CLOEXEC}, "
                          "MSG_CMSG_CLOEXEC) = 30")]]
    if choice < 0.96:
        return [[cap.line(MIGRATION_THREAD, "madvise(0x7f0c2c000000, 2097152, MADV_DONTNEED)"
                          " = 0")]]
    return [[cap.line(MAIN, f"sendmsg(15{QMP}, {{msg_name=NULL, msg_namelen=0, msg_iov=[{{"
                      'iov_base="{\\"return\\": {}}\\r\\n", iov_len=16}], msg_iovlen=1, '
                      "msg_controllen=0, msg_flags=0}, 0) = 16")]]


def _trace(cap: MixedCapture, text: str) -> str:
    return cap.line(MIGRATION_THREAD, f'write(2</dev/pts/0<char 136:0>>, "{text}\\n", '
                    f"{len(text) + 1}) = {len(text) + 1}")


def migration_script(cap: MixedCapture) -> Iterator[list[list[str]]]:
    """One migration attempt of the device as QEMU does it, cancelled back to RUNNING so
    the next attempt can follow: pieces as :func:`mixed_noise` makes them."""
    rng = cap.rng
    feature = f"{DEV_FD}{DEV}, {FEATURE}"
    data = f"{DATA_FD}{DATA}"

    def set_state(new: str, recover: str) -> Iterator[list[list[str]]]:
        yield [[_trace(cap, f"vfio_migration_set_state  ({DEVICE}) new state {new}, recover "
                            f"state {recover}")]]
        lines = cap.call(MIGRATION_THREAD, "ioctl", feature, ", 0x7f0c3a7fc5d0) = 0",
                         split=rng.random() < 0.2)
        yield [lines[:1], lines[1:]] if len(lines) == 2 else [lines]
        yield [[_trace(cap, f"vfio_migration_set_device_state  ({DEVICE}) state {new}")]]

    def read(eof: bool = False, enomsg: bool = False) -> Iterator[list[list[str]]]:
        if eof:
            tail = ', "", 1048576) = 0'
        elif enomsg:
            tail = ", 0x7f0c28000000, 1048576) = -1 ENOMSG (No message of desired type)"
        else:
            size = rng.choice((1048576, 524288, 4096))
            tail = f', "\\x01\\x02\\x03\\x04"..., 1048576) = {size}'
        lines = cap.call(MIGRATION_THREAD, "read", data, tail, split=rng.random() < 0.3)
        yield [lines[:1], lines[1:]] if len(lines) == 2 else [lines]

    yield from set_state("PRE_COPY", "RUNNING")
    for _ in range(rng.randrange(3, 12)):
        yield [[cap.line(MIGRATION_THREAD, f"ioctl({data}, {PRECOPY}, 0x7f0c3a7fc5e0) = 0")]]
        yield from read()
        yield [[_trace(cap, f"vfio_save_block  ({DEVICE}) data_size 1048576")]]
    yield from read(enomsg=True)
    yield from set_state("PRE_COPY_P2P", "ERROR")
    yield from set_state("STOP_COPY", "ERROR")
    for _ in range(rng.randrange(2, 6)):
        yield from read()
    yield from read(eof=True)
    yield from set_state("STOP", "ERROR")
    yield [[cap.line(MIGRATION_THREAD, f"close({data}) = 0")]]
    yield from set_state("RUNNING", "ERROR")


CORPUS = Path(__file__).resolve().parent.parent / "tests" / "corpus" / "lab-mtty-6.12"
#: the real captures (strace -f -y -tt -T of the mtty lab) whose VFIO calls a corpus mix
#: replays: the QEMU-style flows, which the checker must pass
CORPUS_FLOWS = ("flow-qemu-source", "flow-qemu-migrate", "flow-qemu-snapshot",
                "flow-qemu-cancel", "flow-save-restore", "flow-qemu-two-devices")
_REAL_PREFIX = re.compile(r"^\d+\s+\d\d:\d\d:\d\d\.\d+ ")
_REAL_DURATION = re.compile(r" <\d+\.\d+>$")
_REAL_FD = re.compile(r"(?<![\w.:\[/])(\d+)(?=<)")
# a new fd returned without decoration (VFIO_GROUP_GET_DEVICE_FD under strace 6.1)
_REAL_NEW_FD = re.compile(r"(GET_DEVICE_FD, \w+\) = )(\d+)$")
FD_SHIFT = 40   # the real captures use fds 3-9; the QEMU noise owns 3-31


def corpus_calls(name: str) -> list[str]:
    """The calls of one real capture from its first VFIO open to its last VFIO close, without
    prefix, time or duration, fds moved above the noise's fds."""
    with gzip.open(CORPUS / "f_y_tt_T" / f"{name}.strace.gz", "rt") as handle:
        bodies = [_REAL_DURATION.sub("", _REAL_PREFIX.sub("", line.rstrip("\n")))
                  for line in handle]
    first = next(i for i, b in enumerate(bodies) if '"/dev/vfio/vfio"' in b)
    last = max(i for i, b in enumerate(bodies) if b.startswith("close(") and "/dev/vfio/vfio>" in b)
    return [_REAL_NEW_FD.sub(lambda m: m.group(1) + str(int(m.group(2)) + FD_SHIFT),
                             _REAL_FD.sub(lambda m: str(int(m.group(1)) + FD_SHIFT), b))
            for b in bodies[first:last + 1]]


def corpus_script(cap: MixedCapture) -> Iterator[list[list[str]]]:
    """The real mtty captures' VFIO calls, one after the other, as the migration thread's."""
    for name in CORPUS_FLOWS:
        for body in corpus_calls(name):
            yield [[cap.line(MIGRATION_THREAD, body)]]


def generate_corpus_mixed(out, lines: int, rng: random.Random) -> int:
    return generate_mixed(out, lines, rng, corpus_script)


def generate_mixed(out, lines: int, rng: random.Random,
                   make_script: Callable = migration_script) -> int:
    cap = MixedCapture(rng)
    written = 0
    waiting: deque[list[str]] = deque()  # second halves of split calls, not yet printed

    def emit(run: list[str]) -> None:
        nonlocal written
        for text in run:
            # a thread finishes its pending call before it prints anything else (strace
            # shows nothing of a thread between its "<unfinished ...>" and its resumption)
            tid = text.split(None, 1)[0]
            for other in [w for w in waiting if w[0].split(None, 1)[0] == tid]:
                waiting.remove(other)
                emit(other)
            out.write(cap.stamped(text))
            written += 1

    out.writelines(cap.stamped(text) for text in mixed_setup(cap))
    written = sum(1 for _ in mixed_setup(MixedCapture(random.Random(0))))
    script = make_script(cap)
    vfio_share = rng.uniform(0.01, 0.03)
    while written < lines:
        if rng.random() < vfio_share:
            piece = next(script, None)
            if piece is None:
                script = make_script(cap)
                continue
        else:
            piece = mixed_noise(cap)
        emit(piece[0])
        waiting.extend(piece[1:])
        while waiting and (len(waiting) > 2 or rng.random() < 0.5):
            emit(waiting.popleft())
    while waiting:
        emit(waiting.popleft())
    return written


# --- dense plain strace -------------------------------------------------------------------

DENSE_SETUP = (
    'openat(AT_FDCWD, "/dev/vfio/vfio", O_RDWR) = 3',
    "ioctl(3, VFIO_GET_API_VERSION, 0) = 0",
    "ioctl(3, VFIO_CHECK_EXTENSION, 0x3) = 1",
    'openat(AT_FDCWD, "/dev/vfio/0", O_RDWR) = 4',
    "ioctl(4, VFIO_GROUP_GET_STATUS, 0x7ffe164e79c8) = 0",
    "ioctl(4, VFIO_GROUP_SET_CONTAINER, 0x4bf1ac) = 0",
    "ioctl(3, VFIO_SET_IOMMU, 0x3) = 0",
    "ioctl(4, VFIO_GROUP_GET_DEVICE_FD, 0x4bf160) = 5",
    "ioctl(5, VFIO_DEVICE_GET_INFO, 0x7ffe164e79d0) = 0",
    f"ioctl(5, {FEATURE}, 0x7ffe164e7940) = 0",
    'openat(AT_FDCWD, "/dev/vfio/1", O_RDWR) = 6',
    "ioctl(6, VFIO_GROUP_GET_STATUS, 0x7ffe164e6958) = 0",
    "ioctl(6, VFIO_GROUP_SET_CONTAINER, 0x4bf1ac) = 0",
    "ioctl(6, VFIO_GROUP_GET_DEVICE_FD, 0x4bf100) = 7",
    "ioctl(7, VFIO_DEVICE_GET_INFO, 0x7ffe164e6960) = 0",
    f"ioctl(7, {FEATURE}, 0x7ffe164e68d0) = 0",
)


def dense_cycle(rng: random.Random) -> Iterator[str]:
    """Save device 5 into device 7 (migrate2): SETs hidden, data fds 8 (saving) and 9
    (resuming) found by allocation order, then both devices back to RUNNING."""
    blob = '"N,>\\214\\211\\t\\235~\\1\\0\\0\\0\\0\\0\\0\\0"'
    yield f"ioctl(5, {FEATURE}, 0x7ffe164e6d70) = 0"     # source -> PRE_COPY (fd 8)
    yield f"ioctl(7, {FEATURE}, 0x7ffe164e6d70) = 0"     # destination -> RESUMING (fd 9)
    for _ in range(rng.randrange(1, 4)):
        yield "ioctl(8, VFIO_EEH_PE_OP, 0x7ffe164e6d80) = 0"
        yield f"read(8, {blob}..., 4096) = 24"
        yield f"write(9, {blob}..., 24) = 24"
    yield "ioctl(8, VFIO_EEH_PE_OP, 0x7ffe164e6d80) = 0"
    yield 'read(8, "", 4096) = 0'
    yield f"ioctl(5, {FEATURE}, 0x7ffe164e6d70) = 0"     # source -> STOP_COPY
    yield f"read(8, {blob}..., 4096) = 72"
    yield f"write(9, {blob}..., 72) = 72"
    yield 'read(8, "", 4096) = 0'
    yield f"ioctl(5, {FEATURE}, 0x7ffe164e6d70) = 0"     # source -> STOP
    yield f"ioctl(7, {FEATURE}, 0x7ffe164e6d70) = 0"     # destination -> STOP
    yield f"ioctl(7, {FEATURE}, 0x7ffe164e6d70) = 0"     # destination -> RUNNING
    yield "close(9) = 0"
    yield "close(8) = 0"
    yield f"ioctl(5, {FEATURE}, 0x7ffe164e6d70) = 0"     # source -> RUNNING


def generate_dense(out, lines: int, rng: random.Random) -> int:
    pid = 516
    written = 0
    for body in DENSE_SETUP:
        out.write(f"{pid:<7} {body}\n")
        written += 1
    while written < lines:
        for body in dense_cycle(rng):
            out.write(f"{pid:<7} {body}\n")
            written += 1
    return written


# --- decoded canonical ----------------------------------------------------------------------

def generate_canonical(out, lines: int, rng: random.Random) -> int:
    now = 100.0
    name = DEVICE
    header = ["# vmc-trace 1",
              f"device {name} fd=31 flags=STOP_COPY|P2P|PRE_COPY state=RUNNING api=group "
              "driver=mlx5-vfio-pci"]
    for text in header:
        out.write(text + "\n")
    written = len(header)

    def at(tid: int, body: str) -> str:
        nonlocal now
        now += rng.uniform(0.00001, 0.001)
        return f"@{now:.6f} [{tid}] {body}\n"

    def cycle(fd: int) -> Iterator[str]:
        yield at(4242, f"{name} GET MIGRATION argsz=16 = 0 flags=STOP_COPY|P2P|PRE_COPY")
        yield at(4242, f"{name} SET DMA_LOGGING_START argsz=32 = 0")
        yield at(4250, f"{name} SET STATE PRE_COPY argsz=16 = 0 data_fd={fd} <0.000210>")
        yield at(4250, f"fd {fd} precopy_info argsz=24 = 0 initial=2097152 dirty=0")
        for _ in range(rng.randrange(2, 20)):
            yield at(4250, f"fd {fd} read 1048576 = 1048576")
            yield at(4250, f"fd {fd} precopy_info argsz=24 = 0 initial=1048576 dirty=4096")
        yield at(4250, f"fd {fd} read 1048576 = -1 ENOMSG")
        yield at(4250, f"{name} GET DMA_LOGGING_REPORT argsz=40 = 0")
        yield at(4250, f"{name} SET STATE PRE_COPY_P2P argsz=16 = 0 data_fd=-1")
        yield at(4250, f"{name} SET STATE STOP_COPY argsz=16 = 0 data_fd=-1")
        for _ in range(rng.randrange(1, 8)):
            yield at(4250, f"fd {fd} read 1048576 = 1048576")
        yield at(4250, f"fd {fd} read 1048576 = 0")
        yield at(4250, f"{name} SET STATE STOP argsz=16 = 0 data_fd=-1")
        yield at(4250, f"fd {fd} close = 0")
        yield at(4242, f"{name} SET DMA_LOGGING_STOP argsz=8 = 0")
        yield at(4242, f"{name} SET STATE RUNNING argsz=16 = 0 data_fd=-1")

    while written < lines:
        for text in cycle(rng.choice((45, 46, 47))):
            out.write(text)
            written += 1
    return written


# --- QEMU log -------------------------------------------------------------------------------

def generate_qemu(out, lines: int, rng: random.Random) -> int:
    now = 1767225600.1
    dev = DEVICE

    def at(body: str) -> str:
        nonlocal now
        now += rng.uniform(0.0001, 0.01)
        whole = int(now)
        frac = int((now - whole) * 1_000_000)
        stamp = f"2026-01-01T{(whole // 3600) % 24:02d}:{(whole // 60) % 60:02d}:" \
                f"{whole % 60:02d}.{frac:06d}Z"
        return f"{stamp} {body}\n"

    def set_state(new: str, recover: str) -> Iterator[str]:
        yield at(f"vfio_migration_set_state  ({dev}) new state {new}, recover state {recover}")
        yield at(f"vfio_migration_set_device_state  ({dev}) state {new}")

    def cycle() -> Iterator[str]:
        yield at("migrate_set_state new state setup")
        yield at(f"vfio_query_stop_copy_size  ({dev}) stopcopy size 8388608 ret 0")
        yield from set_state("PRE_COPY", "RUNNING")
        yield at(f"vfio_save_setup  ({dev}) data buffer size 1048576")
        yield at("migrate_set_state new state active")
        initial = rng.randrange(1 << 20, 1 << 26)
        for _ in range(rng.randrange(3, 30)):
            # sizes change from record to record, as in real logs (no two bodies alike)
            dirty = rng.randrange(0, 1 << 22)
            yield at(f"vfio_state_pending  ({dev}) stopcopy size {initial + dirty}, precopy "
                     f"initial size {initial}, precopy dirty size {dirty}, request switchover "
                     "ack 1, exact 0, final 0")
            yield at(f"vfio_save_iterate_start  ({dev})")
            block = min(initial, 1 << 20)
            initial -= block
            yield at(f"vfio_save_block  ({dev}) data_size {block}")
            yield at(f"vfio_save_iterate  ({dev}) precopy initial size {initial} precopy dirty "
                     f"size {dirty}")
        yield at("vm_state_notify running 0 reason 7 (finish-migrate)")
        yield from set_state("PRE_COPY_P2P", "ERROR")
        yield from set_state("STOP_COPY", "ERROR")
        yield at(f"vfio_save_complete_precopy_start  ({dev})")
        for _ in range(rng.randrange(2, 9)):
            yield at(f"vfio_save_block  ({dev}) data_size {rng.randrange(1, 1 << 20)}")
        yield at(f"vfio_save_block  ({dev}) data_size 0")
        yield at(f"vfio_save_cleanup  ({dev})")
        yield from set_state("STOP", "ERROR")
        yield at("migrate_set_state new state cancelled")
        yield at("vm_state_notify running 1 reason 9 (running)")
        yield from set_state("RUNNING", "ERROR")

    header = [at(f"vfio_migration_init  ({dev}) mig_flags 0x7, precopy_info_v2_used 1, "
                 "dirty_pages_supported 1"),
              at(f"vfio_migration_realize  ({dev})")]
    out.writelines(header)
    written = len(header)
    while written < lines:
        for text in cycle():
            out.write(text)
            written += 1
    return written


SHAPES: dict[str, Callable] = {"mixed": generate_mixed, "corpus-mixed": generate_corpus_mixed,
                               "dense": generate_dense,
                               "canonical": generate_canonical, "qemu": generate_qemu}
SUFFIX = {"mixed": ".strace", "corpus-mixed": ".strace", "dense": ".strace",
          "canonical": ".vmc", "qemu": ".log"}


def generate(path: Path, lines: int, shape: str = "mixed", seed: int = 1,
             dense: bool | None = None) -> int:
    """Write a capture of about ``lines`` lines (a cycle is never cut); return its length.
    ``dense`` (older callers) chooses between the two strace shapes."""
    if dense is not None:
        shape = "dense" if dense else "mixed"
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as out:
        return SHAPES[shape](out, lines, rng)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--shape", choices=sorted(SHAPES), default="mixed")
    parser.add_argument("--dense", action="store_true", help="same as --shape dense")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    shape = "dense" if args.dense else args.shape
    count = generate(args.out, args.lines, shape, args.seed)
    print(f"{args.out}: {count} lines ({shape})")


if __name__ == "__main__":
    main()
