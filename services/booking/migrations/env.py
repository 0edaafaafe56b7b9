"""Alembic environment of the booking service."""

from kit.migrations import run_env
from services.booking.adapters.tables import metadata

run_env(metadata)
