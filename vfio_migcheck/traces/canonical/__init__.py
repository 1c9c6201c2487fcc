"""The canonical trace format: statement syntax (lark grammar) and the reader with trace context."""
