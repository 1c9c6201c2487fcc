"""One canonical trace per driver quirk of the profile table (docs/driver-profiles.md).

For each: with the driver's profile no error is blamed on either party; without a profile
(the generic union) no *driver* error, at most a warning or note naming the drivers; and,
where it shows, a profile of a driver that does not do it reads the trace exactly.
"""

from __future__ import annotations

import pytest

from vfio_migcheck.checker.api import check_events
from vfio_migcheck.traces.canonical.reader import read_text
from vfio_migcheck.traces.events import ReadSummary


def check(text: str, driver: str | None = None):
    summary = ReadSummary(format="canonical")
    events = list(read_text(text, file="t.vmc", summary=summary))
    assert not summary.unreadable, summary.unreadable
    return check_events(events, spec="linux-6.12", summary=summary, driver=driver)


def errors(result, party: str | None = None) -> list[str]:
    return [f.rule for f in result.findings
            if f.severity == "error" and (party is None or f.party == party)]


def rules(result) -> set[str]:
    return {f.rule for f in result.findings}


HEAD7 = "device d0 flags=0x7\nd0 GET MIGRATION = 0 flags=0x7\n"

# mtty: open, RUNNING_P2P, PRE_COPY_P2P (fd 6), close, reopen, SET STOP_COPY -> a new fd
MTTY_REOPEN = HEAD7 + """d0 SET STATE RUNNING_P2P = 0 data_fd=-1
d0 SET STATE PRE_COPY_P2P = 0 data_fd=6
fd 6 read 64 = 24
d0 close = 0
fd 6 close = 0
device d0 flags=0x7
d0 GET STATE = 0 state=PRE_COPY_P2P data_fd=-1
d0 SET STATE STOP_COPY = 0 data_fd=6
fd 6 read 4096 = 24
fd 6 read 4096 = 0
d0 SET STATE STOP = 0 data_fd=-1
fd 6 close = 0
"""


def test_mtty_reopen_then_stop_copy_returns_a_new_fd() -> None:
    generic = check(MTTY_REOPEN)
    assert errors(generic) == [] and "K003" not in rules(generic)
    assert "K015" in rules(generic)
    note = next(f for f in generic.findings if f.rule == "K015")
    assert note.severity == "note" and "mtty" in note.message
    exact = check(MTTY_REOPEN, "mtty")
    assert exact.findings == ()
    # a PCI driver resets to RUNNING at open: the GET after the reopen is its error
    assert "K002" in errors(check(MTTY_REOPEN, "mlx5"), "driver")


def test_mtty_reopen_without_the_new_fd_is_a_driver_error_with_its_profile() -> None:
    wrong = MTTY_REOPEN.replace("d0 SET STATE STOP_COPY = 0 data_fd=6\nfd 6 read 4096 = 24\n"
                                "fd 6 read 4096 = 0\n", "d0 SET STATE STOP_COPY = 0 data_fd=-1\n")
    assert "K003" in errors(check(wrong, "mtty"))
    assert errors(check(wrong)) == []          # another driver might start no session


OPENED_IN_STOP = HEAD7 + "d0 GET STATE = 0 state=STOP data_fd=-1\nd0 SET STATE RUNNING = 0\n"


def test_a_device_opened_in_a_state_other_than_running() -> None:
    generic = check(OPENED_IN_STOP)
    assert errors(generic) == [] and rules(generic) == {"K017"}
    assert check(OPENED_IN_STOP, "mtty").findings == ()
    assert "K002" in errors(check(OPENED_IN_STOP, "qat"), "driver")
    # the canonical driver= key selects the profile as --driver does
    assert check(OPENED_IN_STOP.replace("device d0 flags=0x7",
                                        "device d0 flags=0x7 driver=vfio-mtty")).findings == ()


@pytest.mark.parametrize("driver, flags", [("mtty", 0x7), ("qat", 0x7), ("hisi_acc", 0x5)])
def test_precopy_end_read_zero(driver: str, flags: int) -> None:
    text = (f"device d0 flags={flags:#x}\nd0 GET MIGRATION = 0 flags={flags:#x}\n"
            "d0 SET STATE PRE_COPY = 0 data_fd=6\nfd 6 read 64 = 24\nfd 6 read 64 = 0\n"
            "d0 SET STATE RUNNING = 0\nfd 6 close = 0\n")
    generic = check(text)
    assert rules(generic) == {"K004"} and errors(generic) == []
    assert driver in generic.findings[0].message
    assert check(text, driver).findings == ()
    assert rules(check(text, "mlx5")) == {"K004"}    # mlx5 ends pre-copy with ENOMSG


MLX5_EIO = HEAD7 + """d0 SET STATE PRE_COPY = 0 data_fd=6
fd 6 read 64 = 24
d0 SET STATE RUNNING = -1 EIO
fd 6 read 64 = -1 ENODEV
d0 GET STATE = 0 state=PRE_COPY data_fd=-1
d0 RESET = 0
fd 6 close = 0
"""


@pytest.mark.parametrize("driver", [None, "mlx5"])
def test_mlx5_precopy_exit_fails_after_ending_the_session(driver: str | None) -> None:
    assert errors(check(MLX5_EIO, driver)) == []


PDS_ERROR = """device d0 flags=0x3
d0 GET MIGRATION = 0 flags=0x3
d0 SET STATE STOP_COPY = 0 data_fd=6
fd 6 read 64 = 24
fd 6 read 64 = -1 ENODEV
d0 GET STATE = 0 state=ERROR data_fd=-1
d0 RESET = 0
d0 GET STATE = 0 state=RUNNING data_fd=-1
fd 6 close = 0
"""


def test_pds_enters_error_by_itself() -> None:
    for driver in (None, "pds"):
        result = check(PDS_ERROR, driver)
        assert errors(result) == [] and "K016" in rules(result)
        warning = next(f for f in result.findings if f.rule == "K016")
        assert warning.severity == "warning" and "pds" in warning.message
    assert "K002" in errors(check(PDS_ERROR, "mlx5"), "driver")


RESET_ENOTTY = HEAD7 + """d0 SET STATE PRE_COPY = 0 data_fd=6
d0 RESET = -1 ENOTTY
fd 6 read 64 = -1 ENODEV
d0 GET STATE = 0 state=RUNNING data_fd=-1
fd 6 close = 0
"""


@pytest.mark.parametrize("driver", [None, "mlx5", "qat"])
def test_reset_answering_enotty_may_have_reset(driver: str | None) -> None:
    assert errors(check(RESET_ENOTTY, driver)) == []


BAD_HEADER = HEAD7 + """d0 SET STATE RESUMING = 0 data_fd=6
fd 6 write 96 = -1 EFAULT
d0 SET STATE STOP = 0 data_fd=-1
fd 6 close = 0
"""


def test_a_write_that_fails_after_taking_the_bytes() -> None:
    for driver in (None, "mtty", "hisi_acc"):
        result = check(BAD_HEADER, driver)
        assert errors(result, "driver") == [] and "K011" not in rules(result)
    # pds takes nothing on a failed write: committing then is the driver's odd behaviour
    assert "K011" in rules(check(BAD_HEADER.replace("0x7", "0x3"), "pds"))


def test_detection_from_the_data_fd_name_in_strace() -> None:
    from pathlib import Path

    from vfio_migcheck.checker.api import check_trace

    save = Path(__file__).parent / "fixtures" / "mtty-6.12" / "f_y_tt_T" / "save.strace"
    assert "K004" not in {f.rule for f in check_trace(save).findings}
    assert "K004" in {f.rule for f in check_trace(save, driver="generic").findings}
