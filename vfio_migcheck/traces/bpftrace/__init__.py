"""The eBPF capture format: what ``vfio-mig.bt`` (``vfio-migcheck capture``) prints.

``syntax`` parses one line (grammar ``grammar/bpftrace.lark``), ``decode`` holds the tables
from raw user-memory words to event fields, ``reader`` follows fds and yields events.
"""

from vfio_migcheck.traces.bpftrace.reader import read, read_text, sniff

__all__ = ["read", "read_text", "sniff"]
