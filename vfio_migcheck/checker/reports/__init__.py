"""Views of checker results: text, JSON, SARIF and JUnit; none knows how findings were made."""
