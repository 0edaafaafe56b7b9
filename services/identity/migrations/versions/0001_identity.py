"""Authorizations, credentials (secrets encrypted at rest) and email confirmations (hashed tokens).

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
        "authorizations",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("org_unit_id", sa.String(64), nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("access_mode", sa.String(32), nullable=True),
        sa.Column("grant_type", sa.String(32), nullable=False),
        sa.Column("return_uri", sa.String(2048), nullable=False),
        sa.Column("login_hint", sa.String(320), nullable=False),
        sa.Column("requested_scopes", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("state_hash", sa.String(64), nullable=False),
        sa.Column("secret_ciphertext", sa.LargeBinary(), nullable=True),
        sa.Column("key_id", sa.String(32), nullable=True),
        sa.Column("claim_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("credential_id", sa.String(64), nullable=False),
        sa.Column("failure_reason", sa.String(64), nullable=False),
        sa.Column("failure_message", sa.Text(), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=True),
        sa.Column("expire_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("complete_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("update_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_authorizations"),
        sa.UniqueConstraint("state_hash", name="uq_authorizations_state_hash"),
        sa.UniqueConstraint("org_unit_id", "request_id", name="uq_authorizations_org_unit_id_request_id"),
    )
    op.create_table(
        "credentials",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("org_unit_id", sa.String(64), nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("access_mode", sa.String(32), nullable=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("grant_type", sa.String(32), nullable=False),
        sa.Column("tenant_id", sa.String(128), nullable=False),
        sa.Column("subject_id", sa.String(256), nullable=False),
        sa.Column("subject_email", sa.String(320), nullable=False),
        sa.Column("granted_scopes", sa.Text(), nullable=False),
        sa.Column("required_scopes", sa.Text(), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("state_message", sa.Text(), nullable=False),
        sa.Column("secret_ciphertext", sa.LargeBinary(), nullable=True),
        sa.Column("key_id", sa.String(32), nullable=True),
        sa.Column("access_token_expire_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("authorization_id", sa.String(64), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=True),
        sa.Column("lease_holder", sa.String(64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revocation_pending", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("update_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoke_time", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_credentials"),
        sa.UniqueConstraint("org_unit_id", "request_id", name="uq_credentials_org_unit_id_request_id"),
    )
    op.create_index(
        "ix_credentials_org_unit_id_create_time", "credentials", ["org_unit_id", "create_time", "id"]
    )
    op.create_table(
        "confirmations",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("org_unit_id", sa.String(64), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=True),
        sa.Column("create_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expire_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirm_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_confirmations"),
        sa.UniqueConstraint("token_hash", name="uq_confirmations_token_hash"),
        sa.UniqueConstraint("org_unit_id", "request_id", name="uq_confirmations_org_unit_id_request_id"),
    )
    op.create_index("ix_confirmations_org_unit_id_email", "confirmations", ["org_unit_id", "email"])


def downgrade() -> None:
    op.drop_index("ix_confirmations_org_unit_id_email", table_name="confirmations")
    op.drop_table("confirmations")
    op.drop_index("ix_credentials_org_unit_id_create_time", table_name="credentials")
    op.drop_table("credentials")
    op.drop_table("authorizations")
