"""Bookings.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bookings",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("org_unit_id", sa.String(64), nullable=False),
        sa.Column("organizer_email", sa.String(320), nullable=False),
        sa.Column("start_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("summary", sa.String(1024), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=True),
        sa.Column("payload_json", sa.Text(), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("update_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_bookings"),
        sa.UniqueConstraint("request_id", name="uq_bookings_request_id"),
    )
    op.create_index("ix_bookings_org_unit_id", "bookings", ["org_unit_id"])


def downgrade() -> None:
    op.drop_index("ix_bookings_org_unit_id", table_name="bookings")
    op.drop_table("bookings")
