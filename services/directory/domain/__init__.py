"""The directory domain: pure Python, no I/O, no framework."""
