"""Bookings, their parties and slots, the outbox, the reply log and request ids.

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

#: Two CONFIRMED slots of one organizer or room that overlap cannot both exist (PostgreSQL).
SLOT_EXCLUSION = (
    "ALTER TABLE booking_slots ADD CONSTRAINT ex_booking_slots_no_overlap "
    "EXCLUDE USING gist (org_unit_id WITH =, calendar_key WITH =, tstzrange(start_time, end_time) WITH &&) "
    "WHERE (state = 'CONFIRMED')"
)


def upgrade() -> None:
    op.create_table(
        "bookings",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("org_unit_id", sa.String(64), nullable=False),
        sa.Column("organizer_email", sa.String(320), nullable=False),
        sa.Column("start_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("time_zone", sa.String(64), nullable=False),
        sa.Column("summary", sa.String(1024), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("location", sa.String(1024), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("cancel_reason", sa.String(1024), nullable=False),
        sa.Column("cancel_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("access_mode", sa.String(16), nullable=False),
        sa.Column("calendar_provider", sa.String(16), nullable=False),
        sa.Column("calendar_connection_id", sa.String(64), nullable=False),
        sa.Column("credential_id", sa.String(64), nullable=False),
        sa.Column("mailbox_user_id", sa.String(128), nullable=False),
        sa.Column("invite_sender", sa.String(320), nullable=False),
        sa.Column("unit_name", sa.String(256), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("update_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("conf_requested", sa.String(16), nullable=False),
        sa.Column("conf_service", sa.String(16), nullable=False),
        sa.Column("conf_state", sa.String(16), nullable=False),
        sa.Column("conf_native", sa.Boolean(), nullable=False),
        sa.Column("conf_connection_id", sa.String(64), nullable=False),
        sa.Column("conf_credential_id", sa.String(64), nullable=False),
        sa.Column("conf_host_user_id", sa.String(256), nullable=False),
        sa.Column("conf_join_url", sa.String(2048), nullable=False),
        sa.Column("conf_meeting_id", sa.String(512), nullable=False),
        sa.Column("conf_passcode", sa.String(128), nullable=False),
        sa.Column("conf_failure", sa.String(1024), nullable=False),
        sa.Column("conf_attempts", sa.Integer(), nullable=False),
        sa.Column("conf_next_attempt_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("conf_lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dlv_method", sa.String(16), nullable=False),
        sa.Column("dlv_state", sa.String(16), nullable=False),
        sa.Column("dlv_event_id", sa.String(1024), nullable=False),
        sa.Column("dlv_ical_uid", sa.String(1024), nullable=False),
        sa.Column("dlv_sequence", sa.Integer(), nullable=False),
        sa.Column("dlv_last_error", sa.String(1024), nullable=False),
        sa.Column("dlv_attempts", sa.Integer(), nullable=False),
        sa.Column("dlv_last_attempt_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dlv_deliver_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dlv_next_attempt_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dlv_lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dlv_pending", sa.Integer(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("id", name="pk_bookings"),
        sa.UniqueConstraint("org_unit_id", "request_id", name="uq_bookings_org_unit_id_request_id"),
    )
    op.create_index("ix_bookings_org_unit_id_start_time_id", "bookings", ["org_unit_id", "start_time", "id"])
    op.create_index("ix_bookings_conf_next_attempt_time", "bookings", ["conf_next_attempt_time"])
    op.create_index("ix_bookings_dlv_ical_uid", "bookings", ["dlv_ical_uid"])
    op.create_index("ix_bookings_dlv_next_attempt_time", "bookings", ["dlv_next_attempt_time"])
    op.create_table(
        "outbox_messages",
        sa.Column("message_id", sa.String(512), nullable=False),
        sa.Column("booking_id", sa.String(64), nullable=False),
        sa.Column("recipient", sa.String(320), nullable=False),
        sa.Column("sender", sa.String(320), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("counts", sa.Boolean(), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(1024), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("message_id", name="pk_outbox_messages"),
    )
    op.create_index("ix_outbox_messages_booking_id_sequence", "outbox_messages", ["booking_id", "sequence"])
    op.create_index("ix_outbox_messages_next_attempt_at", "outbox_messages", ["next_attempt_at"])
    op.create_table(
        "reply_log",
        sa.Column("id", sa.Integer(), nullable=False, autoincrement=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("booking_id", sa.String(64), nullable=False),
        sa.Column("attendee_email", sa.String(320), nullable=False),
        sa.Column("detail", sa.String(512), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_reply_log"),
    )
    op.create_index("ix_reply_log_received_at", "reply_log", ["received_at"])
    op.create_table(
        "request_log",
        sa.Column("org_unit_id", sa.String(64), nullable=False),
        sa.Column("rpc", sa.String(32), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("booking_id", sa.String(64), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("org_unit_id", "rpc", "request_id", name="pk_request_log"),
    )
    op.create_table(
        "booking_parties",
        sa.Column("booking_id", sa.String(64), sa.ForeignKey("bookings.id", ondelete="CASCADE", name="fk_booking_parties_booking_id_bookings"), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("display_name", sa.String(256), nullable=False),
        sa.Column("optional", sa.Boolean(), nullable=False),
        sa.Column("response_status", sa.String(16), nullable=False),
        sa.Column("comment", sa.String(2048), nullable=False),
        sa.Column("proposed_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("proposed_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("response_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_sequence", sa.Integer(), nullable=True),
        sa.Column("last_dtstamp", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("booking_id", "email", name="pk_booking_parties"),
    )
    op.create_index("ix_booking_parties_email", "booking_parties", ["email"])
    op.create_table(
        "booking_slots",
        sa.Column("booking_id", sa.String(64), sa.ForeignKey("bookings.id", ondelete="CASCADE", name="fk_booking_slots_booking_id_bookings"), nullable=False),
        sa.Column("calendar_key", sa.String(320), nullable=False),
        sa.Column("org_unit_id", sa.String(64), nullable=False),
        sa.Column("start_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("booking_id", "calendar_key", name="pk_booking_slots"),
    )
    op.create_index("ix_booking_slots_org_unit_id_calendar_key_start_time", "booking_slots", ["org_unit_id", "calendar_key", "start_time"])

    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        op.execute(SLOT_EXCLUSION)


def downgrade() -> None:
    for table in ("booking_slots", "booking_parties", "request_log", "reply_log", "outbox_messages", "bookings"):
        op.drop_table(table)
