"""strace captures of a VMM: syntax (lark grammar + regex fast path) and the stateful reader."""
