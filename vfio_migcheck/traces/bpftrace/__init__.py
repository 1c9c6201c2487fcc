"""The eBPF capture format: what vfio-mig.bt (vfio-migcheck capture) prints, and its reader.

``syntax`` parses one line (grammar ``grammar/bpftrace.lark``), ``decode`` holds the tables
from raw user-memory words to event fields, ``reader`` follows fds and yields events.
"""
