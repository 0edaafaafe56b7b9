"""Tables of the identity database."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, LargeBinary, String, Table, Text

from kit.db import make_metadata

metadata = make_metadata()

credentials = Table(
    "credentials",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("org_unit_id", String(64), nullable=False, index=True),
    Column("provider", String(32), nullable=False),
    Column("purpose", String(32), nullable=False),
    Column("access_mode", String(32), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("tenant_id", String(128), nullable=True),
    Column("subject_id", String(256), nullable=True),
    Column("subject_email", String(320), nullable=True),
    Column("granted_scopes", Text, nullable=False),
    Column("state", String(32), nullable=False),
    # Token material, encrypted with the configured key (never plain text).
    Column("secret_ciphertext", LargeBinary, nullable=True),
    Column("key_id", String(64), nullable=True),
    Column("access_token_expire_time", DateTime(timezone=True), nullable=True),
    Column("create_time", DateTime(timezone=True), nullable=False),
    Column("update_time", DateTime(timezone=True), nullable=False),
)
