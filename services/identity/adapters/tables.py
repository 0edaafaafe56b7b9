"""Tables of the identity database (SQLAlchemy Core); rows stay inside the adapters.

Secrets are only ever in ``secret_ciphertext`` (AES-GCM, key id beside it); OAuth state values and
confirmation tokens only as SHA-256 hashes.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Index,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

from kit.db import make_metadata

metadata = make_metadata()

authorizations = Table(
    "authorizations",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("org_unit_id", String(64), nullable=False),
    Column("provider", String(32), nullable=False),
    Column("purpose", String(32), nullable=False),
    Column("access_mode", String(32), nullable=True),
    Column("grant_type", String(32), nullable=False),
    Column("return_uri", String(2048), nullable=False),
    Column("login_hint", String(320), nullable=False),
    Column("requested_scopes", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("state_hash", String(64), nullable=False, unique=True),
    # PKCE verifier and the URL embedding the state, encrypted; erased once the authorization is final.
    Column("secret_ciphertext", LargeBinary, nullable=True),
    Column("key_id", String(32), nullable=True),
    Column("claim_until", DateTime(timezone=True), nullable=True),
    Column("credential_id", String(64), nullable=False),
    Column("failure_reason", String(64), nullable=False),
    Column("failure_message", Text, nullable=False),
    Column("request_id", String(128), nullable=True),
    Column("expire_time", DateTime(timezone=True), nullable=False),
    Column("complete_time", DateTime(timezone=True), nullable=True),
    Column("create_time", DateTime(timezone=True), nullable=False),
    Column("update_time", DateTime(timezone=True), nullable=False),
    UniqueConstraint("org_unit_id", "request_id"),
)

credentials = Table(
    "credentials",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("org_unit_id", String(64), nullable=False),
    Column("provider", String(32), nullable=False),
    Column("purpose", String(32), nullable=False),
    Column("access_mode", String(32), nullable=True),
    Column("kind", String(32), nullable=False),
    Column("grant_type", String(32), nullable=False),
    Column("tenant_id", String(128), nullable=False),
    Column("subject_id", String(256), nullable=False),
    Column("subject_email", String(320), nullable=False),
    Column("granted_scopes", Text, nullable=False),
    Column("required_scopes", Text, nullable=False),
    Column("state", String(32), nullable=False),
    Column("state_message", Text, nullable=False),
    # Tokens and key material, encrypted with the key named by key_id (never plain text).
    Column("secret_ciphertext", LargeBinary, nullable=True),
    Column("key_id", String(32), nullable=True),
    Column("access_token_expire_time", DateTime(timezone=True), nullable=True),
    Column("authorization_id", String(64), nullable=False),
    Column("request_id", String(128), nullable=True),
    # Refresh lease: one replica at a time refreshes a credential (conditional UPDATE).
    Column("lease_holder", String(64), nullable=True),
    Column("lease_until", DateTime(timezone=True), nullable=True),
    Column("revocation_pending", Boolean, nullable=False, server_default=false()),
    Column("create_time", DateTime(timezone=True), nullable=False),
    Column("update_time", DateTime(timezone=True), nullable=False),
    Column("revoke_time", DateTime(timezone=True), nullable=True),
    UniqueConstraint("org_unit_id", "request_id"),
    Index("ix_credentials_org_unit_id_create_time", "org_unit_id", "create_time", "id"),
)

confirmations = Table(
    "confirmations",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("org_unit_id", String(64), nullable=False),
    Column("email", String(320), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("request_id", String(128), nullable=True),
    Column("create_time", DateTime(timezone=True), nullable=False),
    Column("expire_time", DateTime(timezone=True), nullable=False),
    Column("confirm_time", DateTime(timezone=True), nullable=True),
    Column("valid_until", DateTime(timezone=True), nullable=True),
    UniqueConstraint("org_unit_id", "request_id"),
    Index("ix_confirmations_org_unit_id_email", "org_unit_id", "email"),
)
