"""Routing change signals for the ResolveAccount cache: every insert, update or delete of a row
ResolveAccount's answer is made of (accounts, calendar connections, served domains, rooms,
conferencing connections) tells which unit changed.

* SQLite: triggers bump the unit's row in ``routing_versions`` in the writing transaction, so a
  reader that sees the data sees its version (``PRAGMA data_version`` says when to look).
* PostgreSQL: triggers ``pg_notify('rendezvous_directory_routing', org_unit_id)``, delivered to
  every listening replica when the transaction commits (identical notifications of one transaction
  are folded into one). No table: a counter row updated per changed row would pile up row versions
  in a long sync transaction.

Conferencing links are left out on purpose: they are written by ResolveAccount itself and read per
call, so storing one never invalidates a cached unit.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

CHANNEL = "rendezvous_directory_routing"
TABLES = ("accounts", "calendar_connections", "served_domains", "rooms", "conferencing_connections")
_FUNCTION = "rendezvous_directory_routing_changed"


def _bump(ref: str) -> str:
    return (f"INSERT INTO routing_versions (org_unit_id, version) VALUES ({ref}.org_unit_id, 1) "
            "ON CONFLICT (org_unit_id) DO UPDATE SET version = routing_versions.version + 1;")  # fmt: skip


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"""
            CREATE FUNCTION {_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP <> 'INSERT' THEN PERFORM pg_notify('{CHANNEL}', OLD.org_unit_id); END IF;
                IF TG_OP <> 'DELETE' THEN PERFORM pg_notify('{CHANNEL}', NEW.org_unit_id); END IF;
                RETURN NULL;
            END $$""")  # fmt: skip
        for table in TABLES:
            op.execute(f"CREATE TRIGGER {table}_routing_changed AFTER INSERT OR UPDATE OR DELETE ON {table} "
                       f"FOR EACH ROW EXECUTE FUNCTION {_FUNCTION}()")  # fmt: skip
        return
    op.create_table(
        "routing_versions",
        sa.Column("org_unit_id", sa.String(64), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("org_unit_id", name="pk_routing_versions"),
    )
    for table in TABLES:
        op.execute(f"CREATE TRIGGER {table}_routing_inserted AFTER INSERT ON {table} BEGIN {_bump('NEW')} END")
        op.execute(f"CREATE TRIGGER {table}_routing_updated AFTER UPDATE ON {table} BEGIN {_bump('OLD')} {_bump('NEW')} END")
        op.execute(f"CREATE TRIGGER {table}_routing_deleted AFTER DELETE ON {table} BEGIN {_bump('OLD')} END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"DROP TRIGGER {table}_routing_changed ON {table}")
        op.execute(f"DROP FUNCTION {_FUNCTION}()")
        return
    for table in TABLES:
        for event in ("inserted", "updated", "deleted"):
            op.execute(f"DROP TRIGGER {table}_routing_{event}")
    op.drop_table("routing_versions")
