"""Trace heads shared by the rules' bad and good examples (canonical format)."""

HEAD = "device d0 flags=0x7\nd0 GET MIGRATION = 0 flags=0x7\n"
PRE = HEAD + "d0 SET MIG_DEVICE_STATE PRE_COPY = 0 data_fd=6\n"
RES = HEAD + "d0 SET MIG_DEVICE_STATE RESUMING = 0 data_fd=6\n"
TWO = ("device a flags=0x3\ndevice b flags=0x3\na GET MIGRATION = 0 flags=0x3\n"
        "b GET MIGRATION = 0 flags=0x3\n")
