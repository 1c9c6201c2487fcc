"""The checking engine as it was before the memoized rewrite (issue 12), kept verbatim as the
reference of the differential test (tests/test_engine_differential.py): every result of the
new engine must equal this one's. Delete both once the new engine has replaced it for good.
"""
