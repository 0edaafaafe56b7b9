"""Tables of the booking database."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, String, Table, Text

from kit.db import make_metadata

metadata = make_metadata()

bookings = Table(
    "bookings",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("org_unit_id", String(64), nullable=False, index=True),
    Column("organizer_email", String(320), nullable=False),
    Column("start_time", DateTime(timezone=True), nullable=False),
    Column("end_time", DateTime(timezone=True), nullable=False),
    Column("state", String(32), nullable=False),
    Column("summary", String(1024), nullable=False),
    Column("request_id", String(128), nullable=True, unique=True),
    Column("payload_json", Text, nullable=False),
    Column("create_time", DateTime(timezone=True), nullable=False),
    Column("update_time", DateTime(timezone=True), nullable=False),
)
