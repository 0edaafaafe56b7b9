"""Tables of the directory database (SQLAlchemy Core); rows stay inside the adapters.

Rules the database itself enforces (not only a read before a write):

* ``served_domains`` (org_unit_id, domain) is unique: a domain is served by at most one
  non-disconnected calendar connection of a unit; disconnecting deletes its rows.
* ``directory_domains`` likewise for the domains directory connections onboard.
* ``accounts``: unique (org_unit_id, email) and (directory_connection_id, external_id).
* ``sync_leases``: one row per directory connection, taken by a conditional UPDATE.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from kit.db import make_metadata

metadata = make_metadata()

ID = 64
EMAIL = 320

org_units = Table(
    "org_units",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("display_name", String(200), nullable=False),
    Column("invite_sender_address", String(320), nullable=False),
    Column("request_id", String(128), nullable=True, unique=True),
    Column("create_time", DateTime(timezone=True), nullable=False),
    Column("update_time", DateTime(timezone=True), nullable=False),
)


def _connection_columns() -> list[Column[Any]]:
    """Columns every kind of connection has."""
    return [
        Column("id", String(ID), primary_key=True),
        Column("org_unit_id", String(ID), ForeignKey("org_units.id"), nullable=False),
        Column("credential_id", String(ID), nullable=False, default=""),
        Column("authorization_id", String(ID), nullable=False, default=""),
        Column("authorization_url", Text, nullable=False, default=""),
        Column("state", String(32), nullable=False),
        Column("state_message", Text, nullable=False, default=""),
        Column("request_id", String(128), nullable=True),
        Column("revoke_pending", Boolean, nullable=False, default=False),
        Column("create_time", DateTime(timezone=True), nullable=False),
        Column("update_time", DateTime(timezone=True), nullable=False),
        Column("disconnect_time", DateTime(timezone=True), nullable=True),
    ]


calendar_connections = Table(
    "calendar_connections",
    metadata,
    *_connection_columns(),
    Column("provider", String(32), nullable=False),
    Column("access_mode", String(32), nullable=False),
    Column("domains", Text, nullable=False),  # space-separated, for display; served_domains rules
    UniqueConstraint("org_unit_id", "request_id"),
    Index(None, "org_unit_id", "create_time"),
    Index(None, "state"),
)

served_domains = Table(
    "served_domains",
    metadata,
    Column("org_unit_id", String(ID), nullable=False),
    Column("domain", String(253), nullable=False),
    Column("calendar_connection_id", String(ID), ForeignKey("calendar_connections.id"), nullable=False),
    UniqueConstraint("org_unit_id", "domain"),
    Index(None, "calendar_connection_id"),
)

directory_connections = Table(
    "directory_connections",
    metadata,
    *_connection_columns(),
    Column("provider", String(32), nullable=False),
    Column("domains", Text, nullable=False),
    Column("sync_interval_seconds", Integer, nullable=False),
    Column("max_deactivation_ratio", Float, nullable=False),
    Column("api_server_url", Text, nullable=False, default=""),
    Column("cursor", Text, nullable=False, default=""),
    Column("next_sync_time", DateTime(timezone=True), nullable=True),
    Column("last_sync_run_id", String(ID), nullable=False, default=""),
    Column("last_success_time", DateTime(timezone=True), nullable=True),
    Column("last_full_sync_time", DateTime(timezone=True), nullable=True),
    UniqueConstraint("org_unit_id", "request_id"),
    Index(None, "org_unit_id", "create_time"),
    Index(None, "state", "next_sync_time"),
)

directory_domains = Table(
    "directory_domains",
    metadata,
    Column("org_unit_id", String(ID), nullable=False),
    Column("domain", String(253), nullable=False),
    Column("directory_connection_id", String(ID), ForeignKey("directory_connections.id"), nullable=False),
    UniqueConstraint("org_unit_id", "domain"),
    Index(None, "directory_connection_id"),
)

sync_leases = Table(
    "sync_leases",
    metadata,
    Column("directory_connection_id", String(ID), ForeignKey("directory_connections.id"), primary_key=True),
    Column("run_id", String(ID), nullable=True),
    Column("holder", String(200), nullable=True),
    Column("lease_until", DateTime(timezone=True), nullable=True),
)

conferencing_connections = Table(
    "conferencing_connections",
    metadata,
    *_connection_columns(),
    Column("service", String(32), nullable=False),
    UniqueConstraint("org_unit_id", "request_id"),
    Index(None, "org_unit_id", "state"),
    Index(None, "state"),
)

conferencing_links = Table(
    "conferencing_links",
    metadata,
    Column("conferencing_connection_id", String(ID), ForeignKey("conferencing_connections.id"), primary_key=True),
    Column("email", String(EMAIL), primary_key=True),
    Column("external_user_id", String(200), nullable=False),
    Column("resolve_time", DateTime(timezone=True), nullable=False),
)

accounts = Table(
    "accounts",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("org_unit_id", String(ID), ForeignKey("org_units.id"), nullable=False),
    Column("email", String(EMAIL), nullable=False),
    Column("display_name", String(256), nullable=False),
    Column("time_zone", String(64), nullable=False),
    Column("state", String(16), nullable=False),
    Column("source", String(32), nullable=False),
    Column("external_id", String(200), nullable=True),
    Column("directory_connection_id", String(ID), nullable=True),
    Column("request_id", String(128), nullable=True),
    Column("create_time", DateTime(timezone=True), nullable=False),
    Column("update_time", DateTime(timezone=True), nullable=False),
    Column("deactivate_time", DateTime(timezone=True), nullable=True),
    UniqueConstraint("org_unit_id", "email"),
    UniqueConstraint("directory_connection_id", "external_id"),
    UniqueConstraint("org_unit_id", "request_id"),
    Index(None, "directory_connection_id", "state"),
)

rooms = Table(
    "rooms",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("org_unit_id", String(ID), ForeignKey("org_units.id"), nullable=False),
    Column("email", String(EMAIL), nullable=False),
    Column("domain", String(253), nullable=False),
    Column("display_name", String(256), nullable=False),
    Column("capacity", Integer, nullable=False),
    Column("building", String(256), nullable=False),
    Column("floor_number", Integer, nullable=True),
    Column("directory_connection_id", String(ID), nullable=False),
    Column("external_id", String(200), nullable=False),
    Column("create_time", DateTime(timezone=True), nullable=False),
    Column("update_time", DateTime(timezone=True), nullable=False),
    UniqueConstraint("org_unit_id", "email"),
    UniqueConstraint("directory_connection_id", "external_id"),
)

sync_runs = Table(
    "sync_runs",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("org_unit_id", String(ID), nullable=False),
    Column("directory_connection_id", String(ID), ForeignKey("directory_connections.id"), nullable=False),
    Column("state", String(16), nullable=False),
    Column("trigger", String(16), nullable=False),
    Column("incremental", Boolean, nullable=False),
    Column("forced", Boolean, nullable=False),
    Column("full_requested", Boolean, nullable=False),
    Column("listed_count", Integer, nullable=False),
    Column("created_count", Integer, nullable=False),
    Column("updated_count", Integer, nullable=False),
    Column("deactivated_count", Integer, nullable=False),
    Column("unchanged_count", Integer, nullable=False),
    Column("would_deactivate_count", Integer, nullable=False),
    Column("error_count", Integer, nullable=False),
    Column("errors", Text, nullable=False),  # JSON list of {external_id, email, message}
    Column("stopped_at", Text, nullable=False),
    Column("failure_reason", String(64), nullable=False),
    Column("failure_message", Text, nullable=False),
    Column("request_id", String(128), nullable=True),
    Column("start_time", DateTime(timezone=True), nullable=False),
    Column("end_time", DateTime(timezone=True), nullable=True),
    Column("create_time", DateTime(timezone=True), nullable=False),
    Column("update_time", DateTime(timezone=True), nullable=False),
    UniqueConstraint("org_unit_id", "request_id"),
    Index(None, "directory_connection_id", "create_time"),
)
