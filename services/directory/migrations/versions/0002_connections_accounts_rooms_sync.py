"""Calendar, directory and conferencing connections, served domains, sync leases and runs,
accounts, rooms and conferencing links.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("org_unit_id", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("display_name", sa.String(length=256), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=True),
        sa.Column("directory_connection_id", sa.String(length=64), nullable=True),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("update_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deactivate_time", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_unit_id"], ["org_units.id"], name=op.f("fk_accounts_org_unit_id_org_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
        sa.UniqueConstraint(
            "directory_connection_id",
            "external_id",
            name=op.f("uq_accounts_directory_connection_id_external_id"),
        ),
        sa.UniqueConstraint("org_unit_id", "email", name=op.f("uq_accounts_org_unit_id_email")),
        sa.UniqueConstraint("org_unit_id", "request_id", name=op.f("uq_accounts_org_unit_id_request_id")),
    )
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_accounts_directory_connection_id_state"),
            ["directory_connection_id", "state"],
            unique=False,
        )

    op.create_table(
        "calendar_connections",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("org_unit_id", sa.String(length=64), nullable=False),
        sa.Column("credential_id", sa.String(length=64), nullable=False),
        sa.Column("authorization_id", sa.String(length=64), nullable=False),
        sa.Column("authorization_url", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("state_message", sa.Text(), nullable=False),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.Column("revoke_pending", sa.Boolean(), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("update_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disconnect_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("access_mode", sa.String(length=32), nullable=False),
        sa.Column("domains", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_unit_id"], ["org_units.id"], name=op.f("fk_calendar_connections_org_unit_id_org_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_connections")),
        sa.UniqueConstraint(
            "org_unit_id", "request_id", name=op.f("uq_calendar_connections_org_unit_id_request_id")
        ),
    )
    with op.batch_alter_table("calendar_connections", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_calendar_connections_org_unit_id_create_time"),
            ["org_unit_id", "create_time"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_calendar_connections_state"), ["state"], unique=False)

    op.create_table(
        "conferencing_connections",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("org_unit_id", sa.String(length=64), nullable=False),
        sa.Column("credential_id", sa.String(length=64), nullable=False),
        sa.Column("authorization_id", sa.String(length=64), nullable=False),
        sa.Column("authorization_url", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("state_message", sa.Text(), nullable=False),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.Column("revoke_pending", sa.Boolean(), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("update_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disconnect_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("service", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_unit_id"], ["org_units.id"], name=op.f("fk_conferencing_connections_org_unit_id_org_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conferencing_connections")),
        sa.UniqueConstraint(
            "org_unit_id", "request_id", name=op.f("uq_conferencing_connections_org_unit_id_request_id")
        ),
    )
    with op.batch_alter_table("conferencing_connections", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_conferencing_connections_org_unit_id_state"),
            ["org_unit_id", "state"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_conferencing_connections_state"), ["state"], unique=False)

    op.create_table(
        "directory_connections",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("org_unit_id", sa.String(length=64), nullable=False),
        sa.Column("credential_id", sa.String(length=64), nullable=False),
        sa.Column("authorization_id", sa.String(length=64), nullable=False),
        sa.Column("authorization_url", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("state_message", sa.Text(), nullable=False),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.Column("revoke_pending", sa.Boolean(), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("update_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disconnect_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("domains", sa.Text(), nullable=False),
        sa.Column("sync_interval_seconds", sa.Integer(), nullable=False),
        sa.Column("max_deactivation_ratio", sa.Float(), nullable=False),
        sa.Column("api_server_url", sa.Text(), nullable=False),
        sa.Column("cursor", sa.Text(), nullable=False),
        sa.Column("next_sync_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_sync_run_id", sa.String(length=64), nullable=False),
        sa.Column("last_success_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_full_sync_time", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_unit_id"], ["org_units.id"], name=op.f("fk_directory_connections_org_unit_id_org_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_directory_connections")),
        sa.UniqueConstraint(
            "org_unit_id", "request_id", name=op.f("uq_directory_connections_org_unit_id_request_id")
        ),
    )
    with op.batch_alter_table("directory_connections", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_directory_connections_org_unit_id_create_time"),
            ["org_unit_id", "create_time"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_directory_connections_state_next_sync_time"),
            ["state", "next_sync_time"],
            unique=False,
        )

    op.create_table(
        "rooms",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("org_unit_id", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("domain", sa.String(length=253), nullable=False),
        sa.Column("display_name", sa.String(length=256), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("building", sa.String(length=256), nullable=False),
        sa.Column("floor_number", sa.Integer(), nullable=True),
        sa.Column("directory_connection_id", sa.String(length=64), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("update_time", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_unit_id"], ["org_units.id"], name=op.f("fk_rooms_org_unit_id_org_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rooms")),
        sa.UniqueConstraint(
            "directory_connection_id",
            "external_id",
            name=op.f("uq_rooms_directory_connection_id_external_id"),
        ),
        sa.UniqueConstraint("org_unit_id", "email", name=op.f("uq_rooms_org_unit_id_email")),
    )
    op.create_table(
        "conferencing_links",
        sa.Column("conferencing_connection_id", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("external_user_id", sa.String(length=200), nullable=False),
        sa.Column("resolve_time", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["conferencing_connection_id"],
            ["conferencing_connections.id"],
            name=op.f("fk_conferencing_links_conferencing_connection_id_conferencing_connections"),
        ),
        sa.PrimaryKeyConstraint("conferencing_connection_id", "email", name=op.f("pk_conferencing_links")),
    )
    op.create_table(
        "directory_domains",
        sa.Column("org_unit_id", sa.String(length=64), nullable=False),
        sa.Column("domain", sa.String(length=253), nullable=False),
        sa.Column("directory_connection_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["directory_connection_id"],
            ["directory_connections.id"],
            name=op.f("fk_directory_domains_directory_connection_id_directory_connections"),
        ),
        sa.UniqueConstraint("org_unit_id", "domain", name=op.f("uq_directory_domains_org_unit_id_domain")),
    )
    with op.batch_alter_table("directory_domains", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_directory_domains_directory_connection_id"),
            ["directory_connection_id"],
            unique=False,
        )

    op.create_table(
        "served_domains",
        sa.Column("org_unit_id", sa.String(length=64), nullable=False),
        sa.Column("domain", sa.String(length=253), nullable=False),
        sa.Column("calendar_connection_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["calendar_connection_id"],
            ["calendar_connections.id"],
            name=op.f("fk_served_domains_calendar_connection_id_calendar_connections"),
        ),
        sa.UniqueConstraint("org_unit_id", "domain", name=op.f("uq_served_domains_org_unit_id_domain")),
    )
    with op.batch_alter_table("served_domains", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_served_domains_calendar_connection_id"), ["calendar_connection_id"], unique=False
        )

    op.create_table(
        "sync_leases",
        sa.Column("directory_connection_id", sa.String(length=64), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.Column("holder", sa.String(length=200), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["directory_connection_id"],
            ["directory_connections.id"],
            name=op.f("fk_sync_leases_directory_connection_id_directory_connections"),
        ),
        sa.PrimaryKeyConstraint("directory_connection_id", name=op.f("pk_sync_leases")),
    )
    op.create_table(
        "sync_runs",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("org_unit_id", sa.String(length=64), nullable=False),
        sa.Column("directory_connection_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("incremental", sa.Boolean(), nullable=False),
        sa.Column("forced", sa.Boolean(), nullable=False),
        sa.Column("full_requested", sa.Boolean(), nullable=False),
        sa.Column("listed_count", sa.Integer(), nullable=False),
        sa.Column("created_count", sa.Integer(), nullable=False),
        sa.Column("updated_count", sa.Integer(), nullable=False),
        sa.Column("deactivated_count", sa.Integer(), nullable=False),
        sa.Column("unchanged_count", sa.Integer(), nullable=False),
        sa.Column("would_deactivate_count", sa.Integer(), nullable=False),
        sa.Column("error_count", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Text(), nullable=False),
        sa.Column("stopped_at", sa.Text(), nullable=False),
        sa.Column("failure_reason", sa.String(length=64), nullable=False),
        sa.Column("failure_message", sa.Text(), nullable=False),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.Column("start_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("update_time", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["directory_connection_id"],
            ["directory_connections.id"],
            name=op.f("fk_sync_runs_directory_connection_id_directory_connections"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_runs")),
        sa.UniqueConstraint("org_unit_id", "request_id", name=op.f("uq_sync_runs_org_unit_id_request_id")),
    )
    with op.batch_alter_table("sync_runs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sync_runs_directory_connection_id_create_time"),
            ["directory_connection_id", "create_time"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("sync_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sync_runs_directory_connection_id_create_time"))

    op.drop_table("sync_runs")
    op.drop_table("sync_leases")
    with op.batch_alter_table("served_domains", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_served_domains_calendar_connection_id"))

    op.drop_table("served_domains")
    with op.batch_alter_table("directory_domains", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_directory_domains_directory_connection_id"))

    op.drop_table("directory_domains")
    op.drop_table("conferencing_links")
    op.drop_table("rooms")
    with op.batch_alter_table("directory_connections", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_directory_connections_state_next_sync_time"))
        batch_op.drop_index(batch_op.f("ix_directory_connections_org_unit_id_create_time"))

    op.drop_table("directory_connections")
    with op.batch_alter_table("conferencing_connections", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_conferencing_connections_state"))
        batch_op.drop_index(batch_op.f("ix_conferencing_connections_org_unit_id_state"))

    op.drop_table("conferencing_connections")
    with op.batch_alter_table("calendar_connections", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_calendar_connections_state"))
        batch_op.drop_index(batch_op.f("ix_calendar_connections_org_unit_id_create_time"))

    op.drop_table("calendar_connections")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_accounts_directory_connection_id_state"))

    op.drop_table("accounts")
