"""Views of checker results: text, JSON, SARIF and JUnit; none knows how findings were made."""

#: rich's width when the output is not a terminal: wide enough that nothing is ever wrapped
UNWRAPPED_WIDTH = 100_000
