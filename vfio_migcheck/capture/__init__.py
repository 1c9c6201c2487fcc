"""``vfio-migcheck capture``: record a VFIO migration with every payload visible.

``commands`` builds the command lines (the shipped ``vfio-mig.bt`` under bpftrace, or strace
with the capture guide's flags), ``preflight`` checks tools, privileges and kernel support
before anything starts, ``session`` runs the tracer next to the target processes.
"""
