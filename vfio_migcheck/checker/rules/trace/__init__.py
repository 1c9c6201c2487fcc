"""Rules about the trace itself (unreadable lines, too many readings): T### ids."""
