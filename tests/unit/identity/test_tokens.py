"""GetAccessToken: served from memory, refreshed ahead of expiry once however many ask, and
NEEDS_REAUTHORIZATION when the provider says invalid_grant."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from kit.errors import FailedPrecondition, InvalidArgument, NotFound, Unavailable
from services.identity.domain.model import CredentialState
from services.identity.domain.scopes import AccessMode, Provider, Purpose
from services.identity.usecases.authorizations import Redirect
from services.identity.usecases.service_credentials import GoogleServiceAccountInput
from tests.unit.identity.fakes import expire_stored_token, refused, token_endpoint_down

ORG = "org-1"


async def connected(world, provider=Provider.MICROSOFT, mode=AccessMode.FREE_BUSY):
    view = await world.authorizations.start(ORG, provider, Purpose.CALENDAR, mode, None, "", "", "")
    state = parse_qs(urlsplit(view.authorization_url).query)["state"][0]
    _, credential = await world.authorizations.complete(Redirect(state, code="code"))
    world.providers.calls.clear()
    return credential


async def test_a_fresh_stored_token_is_served_without_calling_the_provider_then_from_memory(world):
    credential = await connected(world)
    token = await world.tokens.get_access_token(ORG, credential.id)
    assert token.access_token == "access-1"
    world.db.credentials[credential.id]["s"] = None  # the vault is not read again: the token comes from memory
    assert (await world.tokens.get_access_token(ORG, credential.id)).access_token == "access-1"
    assert world.providers.calls == []


async def test_a_token_closer_to_expiry_than_min_validity_is_refreshed_and_the_rotated_refresh_token_kept(world):
    credential = await connected(world)
    world.clock.advance(timedelta(minutes=56))  # 4 minutes left, 5 wanted by default
    token = await world.tokens.get_access_token(ORG, credential.id)
    assert token.access_token == "access-2"
    assert token.expire_time == world.clock.now() + timedelta(hours=1)
    (kind, details), = world.providers.calls
    assert (kind, details["refresh_token"]) == ("refresh", "refresh-1")
    assert world.db.credentials[credential.id]["s"].refresh_token == "refresh-2"
    assert world.db.credentials[credential.id]["c"].access_token_expire_time == token.expire_time


async def test_a_provider_that_does_not_rotate_keeps_the_old_refresh_token(world):
    credential = await connected(world)
    world.providers.rotate = False
    expire_stored_token(world.db, credential.id, world.clock)
    await world.tokens.get_access_token(ORG, credential.id)
    assert world.db.credentials[credential.id]["s"].refresh_token == "refresh-1"


async def test_fifty_concurrent_requests_for_an_expired_token_cause_one_refresh(world):
    credential = await connected(world)
    expire_stored_token(world.db, credential.id, world.clock)
    world.providers.delay = 0.01
    tokens = await asyncio.gather(*(world.tokens.get_access_token(ORG, credential.id) for _ in range(50)))
    assert {t.access_token for t in tokens} == {"access-2"}
    assert world.providers.kinds() == ["refresh"]


async def test_two_replicas_refreshing_the_same_credential_cause_one_provider_call(world):
    credential = await connected(world)
    expire_stored_token(world.db, credential.id, world.clock)
    world.providers.delay = 0.02
    other = world.token_service("replica-b")
    a, b = await asyncio.gather(
        world.tokens.get_access_token(ORG, credential.id), other.get_access_token(ORG, credential.id)
    )
    assert a.access_token == b.access_token == "access-2"
    assert world.providers.kinds() == ["refresh"]
    assert world.db.credentials[credential.id]["lease"] is None


async def test_invalid_grant_marks_the_credential_needs_reauthorization(world):
    credential = await connected(world)
    expire_stored_token(world.db, credential.id, world.clock)
    world.providers.fail_with = refused("invalid_grant", Provider.MICROSOFT)
    with pytest.raises(FailedPrecondition) as error:
        await world.tokens.get_access_token(ORG, credential.id)
    assert error.value.reason == "CREDENTIAL_NEEDS_REAUTHORIZATION"
    stored = world.db.credentials[credential.id]
    assert stored["c"].state is CredentialState.NEEDS_REAUTHORIZATION and "invalid_grant" in stored["c"].state_message
    assert (stored["s"].access_token, stored["s"].refresh_token) == ("", "")
    world.providers.fail_with = None
    with pytest.raises(FailedPrecondition):
        await world.tokens.get_access_token(ORG, credential.id)
    assert world.providers.kinds() == ["refresh"]  # no second attempt with a dead refresh token


async def test_a_token_endpoint_outage_is_unavailable_and_leaves_the_credential_usable(world):
    credential = await connected(world)
    expire_stored_token(world.db, credential.id, world.clock)
    world.providers.fail_with = token_endpoint_down(Provider.MICROSOFT)
    with pytest.raises(Unavailable) as error:
        await world.tokens.get_access_token(ORG, credential.id)
    assert error.value.reason == "TOKEN_ENDPOINT_FAILED"
    assert world.db.credentials[credential.id]["c"].state is CredentialState.ACTIVE
    assert world.db.credentials[credential.id]["lease"] is None
    world.providers.fail_with = None
    assert (await world.tokens.get_access_token(ORG, credential.id)).access_token == "access-2"


async def test_a_refreshed_token_with_fewer_scopes_needs_reauthorization(world):
    credential = await connected(world)
    expire_stored_token(world.db, credential.id, world.clock)
    world.providers.granted = frozenset({"openid", "email"})
    with pytest.raises(FailedPrecondition) as error:
        await world.tokens.get_access_token(ORG, credential.id)
    assert error.value.metadata["missing_scopes"] == "Calendars.ReadBasic.All"
    assert world.db.credentials[credential.id]["c"].state is CredentialState.NEEDS_REAUTHORIZATION


async def test_requests_outside_the_rules_are_refused(world):
    credential = await connected(world)
    with pytest.raises(NotFound) as other_unit:
        await world.tokens.get_access_token("org-2", credential.id)
    assert other_unit.value.reason == "CREDENTIAL_NOT_FOUND"
    with pytest.raises(InvalidArgument) as too_long:
        await world.tokens.get_access_token(ORG, credential.id, min_validity=timedelta(minutes=31))
    assert too_long.value.violations[0].field == "min_validity"
    with pytest.raises(InvalidArgument) as subject:
        await world.tokens.get_access_token(ORG, credential.id, subject="grace@contoso.example")
    assert subject.value.violations[0].field == "subject"
    with pytest.raises(InvalidArgument) as rejected:
        await world.tokens.get_access_token(ORG, credential.id, rejected_token="t" * 16_385)
    assert rejected.value.violations[0].field == "rejected_access_token"


async def revoked_by_another_replica(world, credential_id):
    row = world.db.credentials[credential_id]
    row["c"] = row["c"].revoked(world.clock.now())


async def refused_to_another_replica(world, credential_id):
    world.providers.fail_with = refused("invalid_grant", Provider.MICROSOFT)
    with pytest.raises(FailedPrecondition):
        await world.token_service("replica-b").get_access_token(ORG, credential_id, rejected_token="access-1")


@pytest.mark.parametrize("made_unusable, reason", [(revoked_by_another_replica, "CREDENTIAL_REVOKED"),
                                                   (refused_to_another_replica, "CREDENTIAL_NEEDS_REAUTHORIZATION")])
async def test_a_cached_token_is_rechecked_against_the_database_after_a_while(world, made_unusable, reason):
    credential = await connected(world)
    await world.tokens.get_access_token(ORG, credential.id)
    await made_unusable(world, credential.id)
    assert (await world.tokens.get_access_token(ORG, credential.id)).access_token == "access-1"
    world.clock.advance(timedelta(seconds=31))
    with pytest.raises(FailedPrecondition) as error:
        await world.tokens.get_access_token(ORG, credential.id)
    assert error.value.reason == reason


async def test_a_recheck_of_an_unchanged_credential_reads_its_row_only_and_keeps_the_token(world):
    credential = await connected(world)
    await world.tokens.get_access_token(ORG, credential.id)
    world.db.credentials[credential.id]["s"] = None  # reading the vault now would fail: only the row is read
    world.clock.advance(timedelta(seconds=31))
    assert (await world.tokens.get_access_token(ORG, credential.id)).access_token == "access-1"
    world.clock.advance(timedelta(seconds=31))
    assert (await world.tokens.get_access_token(ORG, credential.id)).access_token == "access-1"
    assert world.providers.calls == []


async def test_a_token_another_replica_refreshed_is_served_from_the_recheck_on(world):
    credential = await connected(world)
    await world.tokens.get_access_token(ORG, credential.id)
    world.clock.advance(timedelta(seconds=1))
    other = world.token_service("replica-b")
    assert (await other.get_access_token(ORG, credential.id, rejected_token="access-1")).access_token == "access-2"
    assert (await world.tokens.get_access_token(ORG, credential.id)).access_token == "access-1"  # until the recheck
    world.clock.advance(timedelta(seconds=30))
    assert (await world.tokens.get_access_token(ORG, credential.id)).access_token == "access-2"
    assert world.providers.kinds() == ["refresh"]


async def test_fifty_callers_reporting_the_current_token_rejected_cause_one_refresh(world):
    credential = await connected(world)
    rejected = (await world.tokens.get_access_token(ORG, credential.id)).access_token
    world.clock.advance(timedelta(seconds=1))
    world.providers.delay = 0.01
    tokens = await asyncio.gather(
        *(world.tokens.get_access_token(ORG, credential.id, rejected_token=rejected) for _ in range(50))
    )
    assert {t.access_token for t in tokens} == {"access-2"}
    assert world.providers.kinds() == ["refresh"]
    assert world.db.credentials[credential.id]["s"].access_token == "access-2"
    world.db.credentials[credential.id]["s"] = None  # a late report of the same token is answered from memory
    assert (await world.tokens.get_access_token(ORG, credential.id, rejected_token=rejected)).access_token == "access-2"
    assert world.providers.kinds() == ["refresh"]


async def test_a_rejected_token_that_is_no_longer_stored_gets_the_stored_one_without_a_refresh(world):
    credential = await connected(world)
    await world.tokens.get_access_token(ORG, credential.id)  # access-1 cached here
    world.clock.advance(timedelta(seconds=1))
    await world.token_service("replica-b").get_access_token(ORG, credential.id, rejected_token="access-1")
    world.providers.calls.clear()
    token = await world.tokens.get_access_token(ORG, credential.id, rejected_token="access-1")
    assert token.access_token == "access-2"
    assert world.providers.calls == []


async def test_a_rejected_token_minted_for_a_subject_is_minted_again(world):
    material = GoogleServiceAccountInput('{"client_email": "sa@p.iam.example", "private_key": "k"}', "grace@nw.example")
    credential = await world.service_credentials.create(ORG, Provider.GOOGLE, Purpose.DIRECTORY, None, "", material)
    ada = await world.tokens.get_access_token(ORG, credential.id, subject="ada@nw.example")
    again = await world.tokens.get_access_token(ORG, credential.id, subject="ada@nw.example", rejected_token=ada.access_token)
    assert (ada.access_token, again.access_token) == ("access-2", "access-3")
    assert world.db.credentials[credential.id]["s"].access_token == "access-1"  # the admin's stored token is untouched


async def test_secrets_under_an_old_key_are_reencrypted_when_read(world):
    credential = await connected(world)
    expire_stored_token(world.db, credential.id, world.clock)
    world.db.current_key = "k2"
    await world.tokens.get_access_token(ORG, credential.id)
    assert world.db.credentials[credential.id]["key"] == "k2"


async def test_a_service_account_mints_for_the_admin_by_default_and_for_other_users_in_memory_only(world):
    material = GoogleServiceAccountInput('{"client_email": "sa@p.iam.example", "private_key": "k"}', "grace@nw.example")
    credential = await world.service_credentials.create(ORG, Provider.GOOGLE, Purpose.DIRECTORY, None, "", material)
    assert world.db.credentials[credential.id]["s"].access_token == "access-1"
    expire_stored_token(world.db, credential.id, world.clock)
    assert (await world.tokens.get_access_token(ORG, credential.id)).access_token == "access-2"
    ada = await world.tokens.get_access_token(ORG, credential.id, subject="ada@nw.example")
    assert ada.access_token == "access-3"
    assert world.db.credentials[credential.id]["s"].access_token == "access-2"
    subjects = [d["subject"] for k, d in world.providers.calls if k == "service_account_token"]
    assert subjects == ["grace@nw.example", "grace@nw.example", "ada@nw.example"]
    with pytest.raises(InvalidArgument):
        await world.tokens.get_access_token(ORG, credential.id, subject="not-an-email")


async def test_a_refused_service_account_needs_reauthorization(world):
    material = GoogleServiceAccountInput('{"client_email": "sa@p.iam.example", "private_key": "k"}', "grace@nw.example")
    credential = await world.service_credentials.create(ORG, Provider.GOOGLE, Purpose.DIRECTORY, None, "", material)
    world.db.credentials[credential.id]["c"] = replace(
        world.db.credentials[credential.id]["c"], access_token_expire_time=world.clock.now()
    )
    world.providers.fail_with = refused("unauthorized_client")
    with pytest.raises(FailedPrecondition) as error:
        await world.tokens.get_access_token(ORG, credential.id)
    assert error.value.reason == "CREDENTIAL_NEEDS_REAUTHORIZATION"
    assert world.db.credentials[credential.id]["s"].service  # the key stays for a later revocation
