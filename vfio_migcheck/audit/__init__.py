"""The audit: many traces checked together, rendered as text, JSON and an HTML page."""
