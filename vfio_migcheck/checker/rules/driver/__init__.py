"""Rules a kernel driver breaks (and K014, a session whose fd never showed): K### ids."""
