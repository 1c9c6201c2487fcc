"""The strace call grammar, the regex fast path (checked against it) and the small helpers."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vfio_migcheck.traces.strace.clock import Clock
from vfio_migcheck.traces.strace.fastcall import fast_call
from vfio_migcheck.traces.strace.ioctl import DEVICE_FEATURE, PRECOPY_INFO, resolve
from vfio_migcheck.traces.strace.syntax import SyntaxProblem, parse_call, parse_partial
from vfio_migcheck.traces.strace.text import unescape

SHAPES = [
    'read(6<anon_inode:mtty_mig>, "N,>\\214\\211\\t\\235~"..., 16) = 16 <0.000293>',
    "ioctl(5<anon_inode:[vfio-device]>, VFIO_DEVICE_FEATURE or VFIO_IOMMU_DIRTY_PAGES or "
    "VFIO_IOMMU_SPAPR_REGISTER_MEMORY, 0x7fff83c86570) = 0 <0.000182>",
    'openat(AT_FDCWD</>, "/dev/vfio/vfio", O_RDWR) = 3</dev/vfio/vfio> <0.000230>',
    "clone3({flags=CLONE_VM|CLONE_FILES, exit_signal=0} => {parent_tid=[504]}, 88) = 504",
    "poll([{fd=6<anon_inode:mtty_mig>, events=POLLIN}], 1, 0) = 1 ([{fd=6, revents=POLLIN}])",
    "fcntl(6, F_GETFD) = 0x1 (flags FD_CLOEXEC)",
    "read(6, 0x7fff8f4fb110, 512) = -1 ENODEV (No such device) <0.000275>",
    "exit_group(0)     = ?",
    "rt_sigprocmask(SIG_BLOCK, ~[], [], 8) = 0",
    "rt_sigprocmask(SIG_UNBLOCK, [RTMIN RT_1], NULL, 8) = 0",
    "prlimit64(0, RLIMIT_STACK, NULL, {rlim_cur=8192*1024, rlim_max=RLIM64_INFINITY}) = 0",
    'execve("/bin/t", ["/bin/t", "save"], 0x7ffe6f19ab28 /* 5 vars */) = 0',
    "ioctl(5, _IOC(_IOC_NONE, 0x3b, 0x75, 0), 0x7f) = 0",
    "ioctl(5, 0x3b75 /* VFIO_DEVICE_FEATURE or VFIO_IOMMU_DIRTY_PAGES */, 0x7f) = 0",
    'connect(3<UNIX:[123->456]>, {sa_family=AF_UNIX, sun_path=@"abc"}, 110) = 0',
    'read(3<TCP:[1.2.3.4:5->6.7.8.9:10]>, "x", 1) = ? ERESTARTSYS (To be restarted if '
    "SA_RESTART is set)",
    "wait4(-1, [{WIFEXITED(s) && WEXITSTATUS(s) == 0}], 0, NULL) = 5",
    "futex(0x1, FUTEX_WAIT, 1, NULL) = ? <unavailable>",
    'openat(AT_FDCWD, "/dev/vfio/devices/vfio0", O_RDWR) = 5</dev/vfio/devices/vfio0<char 237:0>>',
    "mmap(NULL, 1<<20, PROT_READ, MAP_SHARED, 5, 0) = 0x7f0000",
    "pselect6(7, [6], NULL, NULL, {tv_sec=1, tv_nsec=0}, NULL) = 1 (in [6], left {tv_sec=0})",
    'openat(AT_FDCWD, "/tmp/x", O_WRONLY|O_CREAT|O_TRUNC, 0644) = 6',
]


@pytest.mark.parametrize("text", SHAPES)
def test_grammar_reads_every_shape(text: str) -> None:
    call = parse_call(text)
    assert call.name == text.split("(", 1)[0]


def test_values_of_a_parsed_call() -> None:
    call = parse_call(SHAPES[2])
    assert call.ret == 3 and call.ret_decor == "/dev/vfio/vfio"
    assert call.args[0] == [("w", "AT_FDCWD", "/")]
    assert call.duration == pytest.approx(0.00023)
    failed = parse_call(SHAPES[6])
    assert (failed.ret, failed.errno) == (-1, "ENODEV")
    restarted = parse_call(SHAPES[15])
    assert restarted.ret is None and restarted.errno == "ERESTARTSYS"
    assert parse_call(SHAPES[17]).unavailable
    assert parse_call(SHAPES[-1]).args[3] == [("n", 0o644, None)]  # C octal mode


def test_partial_first_half_of_a_split_call() -> None:
    call = parse_partial("rt_sigprocmask(SIG_SETMASK, [], ")
    assert call.name == "rt_sigprocmask" and call.ret is None
    assert call.args[0] == [("w", "SIG_SETMASK", None)]


@pytest.mark.parametrize("text", ["read(6, ", "ioctl(5, X) = ", "garbage", 'write(1, "x) = 1'])
def test_malformed_calls_raise_a_described_problem(text: str) -> None:
    with pytest.raises(SyntaxProblem):
        parse_call(text)


@pytest.mark.parametrize("text", SHAPES)
def test_fast_path_agrees_with_the_grammar(text: str) -> None:
    fast = fast_call(text)
    if fast is not None:
        assert fast == parse_call(text)


# --- differential property test: generated flat calls --------------------------------------

_names = st.sampled_from(["read", "write", "ioctl", "close", "lseek", "pread64", "fcntl"])
_decor = st.sampled_from(["", "<anon_inode:mtty_mig>", "<anon_inode:[vfio-device]>",
                          "</dev/vfio/0>", "<pipe:[123]>", "</dev/pts/0<char 136:0>>"])
_fd = st.builds(lambda n, d: f"{n}{d}", st.integers(0, 1 << 20), _decor)
_string = st.builds(
    lambda body, cut: '"' + body + '"' + ("..." if cut else ""),
    st.lists(st.sampled_from(list("abcXYZ019 ,()[]{}<>=|/") + ["\\n", "\\t", "\\\"",
                                                                 "\\\\", "\\x4e", "\\214",
                                                                 "\\0"]),
             max_size=12).map("".join),
    st.booleans())
_word = st.sampled_from(["VFIO_DEVICE_RESET", "VFIO_EEH_PE_OP or VFIO_MIG_GET_PRECOPY_INFO",
                         "F_GETFL", "SEEK_SET", "NULL", "O_RDWR|O_CLOEXEC", "0x3b75",
                         "0x3b75 /* VFIO_DEVICE_FEATURE or VFIO_IOMMU_DIRTY_PAGES */", "-1"])
_arg = st.one_of(_fd, _string, _word, st.integers(-5, 1 << 40).map(str))
_result = st.one_of(
    st.integers(0, 1 << 20).map(str),
    st.sampled_from(["-1 EINVAL (Invalid argument)", "-1 ENOMSG (No message of desired type)",
                     "0x1 (flags FD_CLOEXEC)", "-1 EBADF (Bad file descriptor)"]))
_duration = st.sampled_from(["", " <0.000123>", " <0.000001234>"])


@settings(max_examples=300, deadline=None)
@given(_names, st.lists(_arg, min_size=1, max_size=4), _result, _duration)
def test_generated_flat_calls_parse_the_same_on_both_paths(name, args, result, duration):
    text = f"{name}({', '.join(args)}) = {result}{duration}"
    reference = parse_call(text)
    fast = fast_call(text)
    assert fast is None or fast == reference


# arrays one level deep (execve's argv, signal and fd sets): the fast path takes them too
_element = st.one_of(_fd, _string, _word, st.integers(-5, 1 << 40).map(str),
                     st.sampled_from(["RTMIN", "RT_1", "SIGCHLD", "...", ""]))
_array = st.builds(lambda negated, items, sep: ("~" if negated else "") + "[" + sep.join(items)
                   + "]",
                   st.booleans(), st.lists(_element, max_size=4),
                   st.sampled_from([", ", " ", ",", " , "]))
_array_names = st.sampled_from(["execve", "rt_sigprocmask", "pselect6", "ioctl", "read"])


@settings(max_examples=300, deadline=None)
@given(_array_names, st.lists(st.one_of(_arg, _array), min_size=1, max_size=4), _result,
       _duration)
def test_generated_calls_with_arrays_parse_the_same_on_both_paths(name, args, result,
                                                                  duration):
    text = f"{name}({', '.join(args)}) = {result}{duration}"
    reference = parse_call(text)
    fast = fast_call(text)
    assert fast is None or fast == reference


@pytest.mark.parametrize("text", [
    'execve("/bin/mig-test", ["/bin/mig-test", "save", "/tmp/blob.bin", "group"], '
    "0x7ffe6f19ab28 /* 5 vars */) = 0 <0.002580>",
    "rt_sigprocmask(SIG_BLOCK, ~[], [], 8) = 0",
    "rt_sigprocmask(SIG_UNBLOCK, [RTMIN RT_1], NULL, 8) = 0",
    "pselect6(7, [6 7], NULL, NULL, NULL, NULL) = 1 <0.000010>",
])
def test_flat_arrays_take_the_fast_path(text: str) -> None:
    fast = fast_call(text)
    assert fast is not None and fast == parse_call(text)


@pytest.mark.parametrize("text", [
    "poll([{fd=6, events=POLLIN}], 1, 0) = 1",          # a struct inside the array
    "x([[1], [2]]) = 0",                                # nested arrays
    "x([1) = 0",                                        # unbalanced
    "x(1]) = 0",
])
def test_structs_and_nested_arrays_are_left_to_the_grammar(text: str) -> None:
    assert fast_call(text) is None


# --- ioctl requests, strings, clocks --------------------------------------------------------


@pytest.mark.parametrize("arg, number", [
    ([("w", "VFIO_DEVICE_FEATURE or VFIO_IOMMU_DIRTY_PAGES", None)], DEVICE_FEATURE),
    ([("w", "VFIO_IOMMU_SPAPR_REGISTER_MEMORY or VFIO_DEVICE_FEATURE", None)], DEVICE_FEATURE),
    ([("w", "VFIO_EEH_PE_OP", None)], PRECOPY_INFO),
    ([("n", 0x3B79, None)], PRECOPY_INFO),
    ([("n", 0x3B75, None), ("c", "VFIO_DEVICE_FEATURE or VFIO_IOMMU_DIRTY_PAGES", None)],
     DEVICE_FEATURE),
    ([("w", "_IOC", None), ("(", [[("w", "_IOC_NONE", None)], [("n", 0x3B, None)],
                                  [("n", 0x79, None)], [("n", 0, None)]], None)], PRECOPY_INFO),
])
def test_ioctl_requests_resolve_by_number(arg, number) -> None:
    request = resolve(arg)
    assert request.number == number and request.is_vfio


def test_canonical_names_follow_the_fd_kind() -> None:
    request = resolve([("n", PRECOPY_INFO, None)])
    assert request.canonical_name("data") == "VFIO_MIG_GET_PRECOPY_INFO"
    assert request.canonical_name("container") == "VFIO_EEH_PE_OP"
    feature = resolve([("w", "VFIO_IOMMU_DIRTY_PAGES or VFIO_DEVICE_FEATURE", None)])
    assert feature.canonical_name("device") == "VFIO_DEVICE_FEATURE"
    assert feature.canonical_name("container") == "VFIO_IOMMU_DIRTY_PAGES"


@pytest.mark.parametrize("literal, text, cut", [
    ('"a\\nb"', "a\nb", False),
    ('"\\x4e\\x2c"', "N,", False),
    ('"N,>\\214"...', "N,>\ufffd", True),
    ('"\\"q\\\\"', '"q\\', False),
    ('"\\0\\1\\t"', "\x00\x01\t", False),
])
def test_unescape_strace_strings(literal: str, text: str, cut: bool) -> None:
    assert unescape(literal) == (text, cut)


def test_clock_modes_and_midnight() -> None:
    clock = Clock()
    assert clock.value("23:59:59.5") == pytest.approx(86399.5)
    assert clock.value("00:00:00.25") == pytest.approx(86400.25)
    assert clock.rollovers == 1
    relative = Clock()
    assert [relative.value(t) for t in ("0.000000", "0.5", "0.25")] == [0.0, 0.5, 0.75]
    epoch = Clock()
    assert epoch.value("1767225600.123456789") == pytest.approx(1767225600.123456789)
    assert epoch.value("not-a-time") is None
