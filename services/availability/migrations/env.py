"""Alembic environment of the availability service."""

from kit.migrations import run_env
from services.availability.adapters.tables import metadata

run_env(metadata)
