"""Tables of the directory database (SQLAlchemy Core); rows stay inside the adapters."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, String, Table

from kit.db import make_metadata

metadata = make_metadata()

org_units = Table(
    "org_units",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("display_name", String(200), nullable=False),
    Column("invite_sender_address", String(320), nullable=False),
    Column("request_id", String(128), nullable=True, unique=True),
    Column("create_time", DateTime(timezone=True), nullable=False),
    Column("update_time", DateTime(timezone=True), nullable=False),
)
