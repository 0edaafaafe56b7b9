"""Tables of the availability database."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, String, Table, Text

from kit.db import make_metadata

metadata = make_metadata()

availability_rules = Table(
    "availability_rules",
    metadata,
    Column("org_unit_id", String(64), primary_key=True),
    Column("email", String(320), primary_key=True),
    Column("time_zone", String(64), nullable=False),
    # Weekly periods and date overrides as JSON (see adapters/sql.py); read and written whole.
    Column("rules_json", Text, nullable=False),
    Column("create_time", DateTime(timezone=True), nullable=False),
    Column("update_time", DateTime(timezone=True), nullable=False),
)
