"""The booking domain: pure Python, no I/O, no framework."""
