"""Secrets at rest: a dump of the database holds no token, state or key in plain text; keys rotate
without losing a credential; a ciphertext moved to another row does not decrypt."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import grpc
from sqlalchemy import text
from sqlalchemy.engine import make_url

from kit.db import create_engine, is_sqlite
from rendezvous.common.v1 import common_pb2
from rendezvous.identity.v1 import identity_resources_pb2 as res
from rendezvous.identity.v1 import identity_service_pb2 as pb
from services.identity.bootstrap import rotate_keys
from tests.integration.identity.conftest import (
    AUTH,
    KEYS,
    ORG,
    Harness,
    harness,
    identity_settings,
    rpc_error,
    state_of,
)

NEW_KEY = "k2:" + "b" * 43
TABLES = ("authorizations", "credentials", "confirmations")


async def dump(database_url: str) -> bytes:
    """Every row of every identity table as bytes, plus (SQLite) the database files themselves."""
    engine = create_engine(database_url)
    chunks: list[bytes] = []
    async with engine.connect() as conn:
        for table in TABLES:
            for row in (await conn.execute(text(f"SELECT * FROM {table}"))).all():
                for value in row:
                    chunks.append(bytes(value) if isinstance(value, bytes | memoryview) else str(value).encode())
    await engine.dispose()
    if is_sqlite(database_url):
        path = Path(str(make_url(database_url).database))
        for file in (path, Path(f"{path}-wal")):
            if file.exists():
                chunks.append(file.read_bytes())
    return b"\n".join(chunks)


async def test_a_database_dump_holds_no_token_state_or_key_in_plain_text(identity: Harness, database_url, sandbox):
    sa = json.loads((sandbox.sandbox.fixture_dir / "google.json").read_text())["service_accounts"][0]
    await identity.stub.CreateServiceCredential(pb.CreateServiceCredentialRequest(
        org_unit_id=ORG, provider=common_pb2.PROVIDER_GOOGLE, purpose=res.PURPOSE_DIRECTORY,
        google_service_account=pb.GoogleServiceAccount(service_account_key_json=json.dumps(sa),
                                                      impersonated_admin_email="grace@northwind.example"),
    ), metadata=AUTH)  # fmt: skip
    for provider, purpose, mode, user in [("GOOGLE", "CALENDAR", "READ_WRITE", "ada@northwind.example"),
                                          ("MICROSOFT", "CALENDAR", "FREE_BUSY", "adele@contoso.example"),
                                          ("ZOOM", "CONFERENCING", "", "alex@contoso.example")]:  # fmt: skip
        credential = await identity.connect(provider, purpose, mode, user)
        identity.clock.advance(timedelta(minutes=58))
        await identity.token(credential.id)  # a refreshed token is stored too
        identity.clock.advance(timedelta(minutes=-58))
    pending = await identity.start("GOOGLE", "CALENDAR", "FREE_BUSY", login_hint="alan@northwind.example")

    secrets = [t["token"] for provider in ("google", "microsoft", "zoom") for t in await identity.admin.tokens(provider)]
    assert len(secrets) >= 8
    secrets.append(state_of(pending.authorization_url))
    secrets += [line for line in sa["private_key"].splitlines() if len(line) > 40][:3]
    data = await dump(database_url)
    found = [s for s in secrets if s.encode() in data]
    assert found == []
    assert data.count(b"k1") >= 5  # the ciphertexts are there, named by their key id


async def test_keys_rotate_without_losing_a_credential(identity: Harness, database_url):
    credential = await identity.connect("MICROSOFT", "CALENDAR", "READ_WRITE", "megan@contoso.example")
    pending = await identity.start("GOOGLE", "CALENDAR", "READ_WRITE", login_hint="ada@northwind.example")
    both = identity_settings(database_url, identity.sandbox.base_url, "127.0.0.1:1",
                             encryption_keys=f"{NEW_KEY},{KEYS}")  # fmt: skip
    assert await rotate_keys(both) == 2  # the credential and the pending authorization
    engine = create_engine(database_url)
    async with engine.connect() as conn:
        kids = {r[0] for t in ("credentials", "authorizations")
                for r in (await conn.execute(text(f"SELECT key_id FROM {t} WHERE key_id IS NOT NULL"))).all()}
    await engine.dispose()  # fmt: skip
    assert kids == {"k2"}
    only_new = identity_settings(database_url, identity.sandbox.base_url, "127.0.0.1:1", encryption_keys=NEW_KEY,
                                 public_url=identity.base_url)  # the same deployment: the same redirect URI
    async with harness(only_new, identity.sandbox, identity.directory, identity.clock) as after:
        at_provider = await after.http.get(pending.authorization_url)
        redirect = parse_qs(urlsplit(at_provider.headers["location"]).query)
        done = await after.stub.CompleteAuthorization(pb.CompleteAuthorizationRequest(
            state=redirect["state"][0], code=redirect["code"][0]), metadata=AUTH)  # its verifier decrypts too
        assert done.credential.state == res.Credential.STATE_ACTIVE
        after.clock.advance(timedelta(minutes=58))
        assert (await after.token(credential.id)).access_token  # decrypted, refreshed, stored again


async def test_secrets_under_an_old_key_are_reencrypted_when_read(identity: Harness, database_url):
    credential = await identity.connect("GOOGLE", "CALENDAR", "READ_WRITE", "grace@northwind.example")
    both = identity_settings(database_url, identity.sandbox.base_url, "127.0.0.1:1",
                             encryption_keys=f"{NEW_KEY},{KEYS}")  # fmt: skip
    async with harness(both, identity.sandbox, identity.directory, identity.clock) as after:
        await after.token(credential.id)
    engine = create_engine(database_url)
    async with engine.connect() as conn:
        kid = (await conn.execute(text("SELECT key_id FROM credentials"))).scalar()
    await engine.dispose()
    assert kid == "k2"


async def test_a_ciphertext_moved_to_another_row_does_not_decrypt(identity: Harness, database_url):
    first = await identity.connect("GOOGLE", "CALENDAR", "READ_WRITE", "ada@northwind.example")
    second = await identity.connect("GOOGLE", "CALENDAR", "READ_WRITE", "alan@northwind.example")
    engine = create_engine(database_url)
    async with engine.begin() as conn:
        await conn.execute(text(
            "UPDATE credentials SET secret_ciphertext = (SELECT secret_ciphertext FROM credentials WHERE id = :a) "
            "WHERE id = :b"), {"a": first.id, "b": second.id})  # fmt: skip
    await engine.dispose()
    fresh = identity_settings(database_url, identity.sandbox.base_url, "127.0.0.1:1")
    async with harness(fresh, identity.sandbox, identity.directory, identity.clock) as other:
        status, reason, _, _ = await rpc_error(other.token(second.id))
    assert (status, reason) == (grpc.StatusCode.INTERNAL, "INTERNAL")
