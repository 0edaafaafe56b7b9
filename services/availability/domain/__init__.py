"""The availability domain: pure Python, no I/O, no framework."""
