"""The identity domain: pure Python, no I/O, no framework."""
