"""Rules a VMM (user space) breaks: U### ids, one module per rule."""
