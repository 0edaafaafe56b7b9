"""Tables of the booking database.

``booking_slots`` holds one row per booking and calendar key (the organizer and each room). On
PostgreSQL an exclusion constraint makes two CONFIRMED slots of one key that overlap impossible;
SQLite gets the same guarantee from serialized write transactions (``BEGIN IMMEDIATE``) that check
for overlaps before writing (see ``adapters.sql``).
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from kit.db import make_metadata

metadata = make_metadata()

SLOT_EXCLUSION = "ex_booking_slots_no_overlap"

bookings = Table(
    "bookings",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("org_unit_id", String(64), nullable=False),
    Column("organizer_email", String(320), nullable=False),
    Column("start_time", DateTime(timezone=True), nullable=False),
    Column("end_time", DateTime(timezone=True), nullable=False),
    Column("time_zone", String(64), nullable=False),
    Column("summary", String(1024), nullable=False),
    Column("description", Text, nullable=False),
    Column("location", String(1024), nullable=False),
    Column("state", String(16), nullable=False),
    Column("cancel_reason", String(1024), nullable=False),
    Column("cancel_time", DateTime(timezone=True), nullable=True),
    Column("access_mode", String(16), nullable=False),
    Column("calendar_provider", String(16), nullable=False),
    Column("calendar_connection_id", String(64), nullable=False),
    Column("credential_id", String(64), nullable=False),
    Column("mailbox_user_id", String(128), nullable=False),
    Column("invite_sender", String(320), nullable=False),
    Column("unit_name", String(256), nullable=False),
    Column("request_id", String(128), nullable=True),
    Column("request_hash", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("create_time", DateTime(timezone=True), nullable=False),
    Column("update_time", DateTime(timezone=True), nullable=False),
    # conferencing
    Column("conf_requested", String(16), nullable=False),
    Column("conf_service", String(16), nullable=False),
    Column("conf_state", String(16), nullable=False),
    Column("conf_native", Boolean, nullable=False),
    Column("conf_connection_id", String(64), nullable=False),
    Column("conf_credential_id", String(64), nullable=False),
    Column("conf_host_user_id", String(256), nullable=False),
    Column("conf_join_url", String(2048), nullable=False),
    Column("conf_meeting_id", String(512), nullable=False),
    Column("conf_passcode", String(128), nullable=False),
    Column("conf_failure", String(1024), nullable=False),
    Column("conf_attempts", Integer, nullable=False),
    Column("conf_next_attempt_time", DateTime(timezone=True), nullable=True),
    Column("conf_lease_until", DateTime(timezone=True), nullable=True),
    # delivery of the latest version
    Column("dlv_method", String(16), nullable=False),
    Column("dlv_state", String(16), nullable=False),
    Column("dlv_event_id", String(1024), nullable=False),
    Column("dlv_ical_uid", String(1024), nullable=False),
    Column("dlv_sequence", Integer, nullable=False),
    Column("dlv_last_error", String(1024), nullable=False),
    Column("dlv_attempts", Integer, nullable=False),
    Column("dlv_last_attempt_time", DateTime(timezone=True), nullable=True),
    Column("dlv_deliver_time", DateTime(timezone=True), nullable=True),
    Column("dlv_next_attempt_time", DateTime(timezone=True), nullable=True),
    Column("dlv_lease_until", DateTime(timezone=True), nullable=True),
    # emailed invites of the latest version not yet settled (kept by the outbox repository)
    Column("dlv_pending", Integer, nullable=False, server_default="0"),
    UniqueConstraint("org_unit_id", "request_id"),
    Index("ix_bookings_org_unit_id_start_time_id", "org_unit_id", "start_time", "id"),
    Index("ix_bookings_dlv_ical_uid", "dlv_ical_uid"),
    Index("ix_bookings_dlv_next_attempt_time", "dlv_next_attempt_time"),
    Index("ix_bookings_conf_next_attempt_time", "conf_next_attempt_time"),
)

booking_parties = Table(
    "booking_parties",
    metadata,
    Column("booking_id", String(64), ForeignKey("bookings.id", ondelete="CASCADE"), primary_key=True),
    Column("email", String(320), primary_key=True),
    Column("position", Integer, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("display_name", String(256), nullable=False),
    Column("optional", Boolean, nullable=False),
    Column("response_status", String(16), nullable=False),
    Column("comment", String(2048), nullable=False),
    Column("proposed_start", DateTime(timezone=True), nullable=True),
    Column("proposed_end", DateTime(timezone=True), nullable=True),
    Column("response_time", DateTime(timezone=True), nullable=True),
    Column("last_sequence", Integer, nullable=True),
    Column("last_dtstamp", DateTime(timezone=True), nullable=True),
    Index("ix_booking_parties_email", "email"),
)

booking_slots = Table(
    "booking_slots",
    metadata,
    Column("booking_id", String(64), ForeignKey("bookings.id", ondelete="CASCADE"), primary_key=True),
    Column("calendar_key", String(320), primary_key=True),
    Column("org_unit_id", String(64), nullable=False),
    Column("start_time", DateTime(timezone=True), nullable=False),
    Column("end_time", DateTime(timezone=True), nullable=False),
    Column("state", String(16), nullable=False),
    Index("ix_booking_slots_org_unit_id_calendar_key_start_time", "org_unit_id", "calendar_key", "start_time"),
)

outbox_messages = Table(
    "outbox_messages",
    metadata,
    Column("message_id", String(512), primary_key=True),
    Column("booking_id", String(64), nullable=False),
    Column("recipient", String(320), nullable=False),
    Column("sender", String(320), nullable=False),
    Column("method", String(16), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("sequence", Integer, nullable=False),
    Column("counts", Boolean, nullable=False),  # part of the booking version Booking.delivery reports
    Column("raw", LargeBinary, nullable=False),
    Column("create_time", DateTime(timezone=True), nullable=False),
    Column("next_attempt_at", DateTime(timezone=True), nullable=True),  # NULL once sent or failed
    Column("lease_until", DateTime(timezone=True), nullable=True),
    Column("attempts", Integer, nullable=False),
    Column("last_error", String(1024), nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=True),
    Column("failed_at", DateTime(timezone=True), nullable=True),
    Index("ix_outbox_messages_next_attempt_at", "next_attempt_at"),
    Index("ix_outbox_messages_booking_id_sequence", "booking_id", "sequence"),
)

reply_log = Table(
    "reply_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("source", String(16), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("reason", String(64), nullable=False),
    Column("method", String(16), nullable=False),
    Column("booking_id", String(64), nullable=False),
    Column("attendee_email", String(320), nullable=False),
    Column("detail", String(512), nullable=False),
    Column("size", Integer, nullable=False),
    Column("digest", String(64), nullable=False),
    Index("ix_reply_log_received_at", "received_at"),
)

request_log = Table(
    "request_log",
    metadata,
    Column("org_unit_id", String(64), primary_key=True),
    Column("rpc", String(32), primary_key=True),
    Column("request_id", String(128), primary_key=True),
    Column("digest", String(64), nullable=False),
    Column("booking_id", String(64), nullable=False),
    Column("create_time", DateTime(timezone=True), nullable=False),
)
