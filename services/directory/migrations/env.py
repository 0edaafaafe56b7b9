"""Alembic environment of the directory service."""

from kit.migrations import run_env
from services.directory.adapters.tables import metadata

run_env(metadata)
