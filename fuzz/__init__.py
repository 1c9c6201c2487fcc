"""An in-process fuzz harness for every reader, the checker and the writer round trip.

Run from the repository root: ``python -m fuzz --help`` (docs/robustness.md). It mutates
seed traces from the repository's corpora, feeds each input to one target and records
crashes (any exception a user could see as a traceback) and slow inputs (over the time
budget) with the input that caused them, so each becomes a regression fixture.
"""
