"""Use cases of the booking service."""
