"""A token the provider refused (401) reported back through GetAccessToken, and the token cache's
re-check, on a real database with the sandbox over HTTP (two replicas share one database)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import grpc
import pytest

from providers import ProviderAuthError, ProviderEndpoints, ProviderHttp, Providers
from providers.google import GoogleOAuth
from rendezvous.identity.v1 import identity_service_pb2 as pb
from tests.integration.identity.conftest import AUTH, ORG, Harness, harness, identity_settings, rpc_error

ADA = "ada@northwind.example"
RECHECK = timedelta(seconds=31)  # just past RENDEZVOUS_IDENTITY_TOKEN_CACHE_RECHECK_SECONDS' default


@pytest.fixture
async def google(sandbox) -> AsyncIterator[GoogleOAuth]:
    """A caller's own view of the provider: what a token is worth there."""
    async with ProviderHttp() as http:
        yield Providers(http, ProviderEndpoints.sandbox(sandbox.base_url)).google.oauth


@pytest.fixture
async def other(identity: Harness, database_url) -> AsyncIterator[Harness]:
    """A second replica of identity on the same database."""
    settings = identity_settings(database_url, identity.sandbox.base_url, "127.0.0.1:1")
    async with harness(settings, identity.sandbox, identity.directory, identity.clock) as replica:
        yield replica


async def last_seq(identity: Harness) -> int:
    return max((r["seq"] for r in await identity.admin.requests()), default=0)


async def refreshes(identity: Harness, since: int) -> list[str]:
    return [r["form"]["grant_type"] for r in await identity.admin.requests(route="google.oauth.token", since=since)]


async def test_fifty_callers_reporting_a_refused_token_get_one_new_token_from_one_refresh(identity: Harness, google):
    credential = await identity.connect("GOOGLE", "CALENDAR", "READ_WRITE", ADA)
    refused = (await identity.token(credential.id)).access_token
    await identity.admin.expire_token(refused)  # the provider stops accepting it ahead of its expiry
    with pytest.raises(ProviderAuthError):
        await google.userinfo(refused)
    since = await last_seq(identity)

    answers = await asyncio.gather(*(identity.token(credential.id, rejected=refused) for _ in range(50)))

    assert len({a.access_token for a in answers}) == 1
    fresh = answers[0].access_token
    assert fresh != refused
    assert await refreshes(identity, since) == ["refresh_token"]
    assert (await google.userinfo(fresh)).sub == credential.subject_id
    late = await identity.token(credential.id, rejected=refused)
    assert late.access_token == fresh and await refreshes(identity, since) == ["refresh_token"]


async def test_a_refused_token_another_replica_already_replaced_is_answered_without_a_refresh(
    identity: Harness, other: Harness, google
):
    credential = await identity.connect("GOOGLE", "CALENDAR", "FREE_BUSY", ADA)
    refused = (await identity.token(credential.id)).access_token  # now cached by this replica
    await identity.admin.expire_token(refused)
    since = await last_seq(identity)
    fresh = (await other.token(credential.id, rejected=refused)).access_token

    answer = await identity.token(credential.id, rejected=refused)

    assert answer.access_token == fresh != refused
    assert await refreshes(identity, since) == ["refresh_token"]
    assert (await google.tokeninfo(fresh)).sub == credential.subject_id


async def test_a_revocation_by_another_replica_stops_the_cached_token_at_the_recheck(identity: Harness, other: Harness):
    credential = await identity.connect("GOOGLE", "CALENDAR", "READ_WRITE", ADA)
    cached = (await identity.token(credential.id)).access_token
    await other.stub.RevokeCredential(pb.RevokeCredentialRequest(org_unit_id=ORG, credential_id=credential.id),
                                      metadata=AUTH)  # fmt: skip
    assert (await identity.token(credential.id)).access_token == cached  # served from memory until the recheck

    identity.clock.advance(RECHECK)

    status, reason, _, _ = await rpc_error(identity.token(credential.id))
    assert (status, reason) == (grpc.StatusCode.FAILED_PRECONDITION, "CREDENTIAL_REVOKED")


async def test_needs_reauthorization_found_by_another_replica_stops_the_cached_token_at_the_recheck(
    identity: Harness, other: Harness
):
    credential = await identity.connect("GOOGLE", "CALENDAR", "READ_WRITE", ADA)
    cached = (await identity.token(credential.id)).access_token
    await identity.admin.revoke_token(provider="google", subject=credential.subject_id)  # the user revoked access
    status, reason, _, _ = await rpc_error(other.token(credential.id, rejected=cached))  # its refresh: invalid_grant
    assert (status, reason) == (grpc.StatusCode.FAILED_PRECONDITION, "CREDENTIAL_NEEDS_REAUTHORIZATION")

    identity.clock.advance(RECHECK)

    status, reason, _, _ = await rpc_error(identity.token(credential.id))
    assert (status, reason) == (grpc.StatusCode.FAILED_PRECONDITION, "CREDENTIAL_NEEDS_REAUTHORIZATION")


async def test_a_cached_token_outlives_the_recheck_when_nothing_changed(identity: Harness):
    credential = await identity.connect("MICROSOFT", "CALENDAR", "FREE_BUSY", "adele@contoso.example")
    cached = (await identity.token(credential.id)).access_token
    since = await last_seq(identity)

    for _ in range(3):
        identity.clock.advance(RECHECK)
        assert (await identity.token(credential.id)).access_token == cached

    assert await identity.admin.requests(since=since) == []


async def test_an_overlong_rejected_token_is_invalid_argument_naming_the_field(identity: Harness):
    credential = await identity.connect("GOOGLE", "CALENDAR", "READ_WRITE", ADA)
    status, reason, metadata, violations = await rpc_error(identity.token(credential.id, rejected="t" * 16_385))
    assert (status, metadata["field"]) == (grpc.StatusCode.INVALID_ARGUMENT, "rejected_access_token")
    assert [field for field, _ in violations] == ["rejected_access_token"]
