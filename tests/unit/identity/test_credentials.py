"""Revoking (here and at the provider, idempotent, retried when the provider is down), listing, and
service credentials."""

from __future__ import annotations

from datetime import timedelta

import pytest

from kit.errors import AlreadyExists, FailedPrecondition, InvalidArgument
from services.identity.domain.model import CredentialKind, CredentialState
from services.identity.domain.scopes import AccessMode, Provider, Purpose
from services.identity.usecases.service_credentials import (
    GoogleServiceAccountInput,
    SuccessFactorsInput,
    ZoomServerToServerInput,
)
from tests.unit.identity.fakes import refused, token_endpoint_down
from tests.unit.identity.test_tokens import ORG, connected

KEY = '{"client_email": "sa@p.iam.example", "private_key": "k"}'


async def test_revoking_makes_the_credential_unusable_at_once_and_revokes_at_the_provider(world):
    credential = await connected(world, Provider.GOOGLE, AccessMode.READ_WRITE)
    await world.tokens.get_access_token(ORG, credential.id)  # cached
    revoked = await world.credentials.revoke(ORG, credential.id)
    assert revoked.state is CredentialState.REVOKED and revoked.revoke_time == world.clock.now()
    assert ("revoke", {"provider": Provider.GOOGLE, "token": "refresh-1"}) in world.providers.calls
    assert world.db.credentials[credential.id]["s"] is None  # tokens erased
    with pytest.raises(FailedPrecondition) as error:
        await world.tokens.get_access_token(ORG, credential.id)
    assert error.value.reason == "CREDENTIAL_REVOKED"


async def test_revoking_twice_returns_the_same_credential_without_a_second_provider_call(world):
    credential = await connected(world, Provider.GOOGLE, AccessMode.READ_WRITE)
    first = await world.credentials.revoke(ORG, credential.id)
    world.clock.advance(timedelta(minutes=1))
    again = await world.credentials.revoke(ORG, credential.id)
    assert again == first
    assert world.providers.kinds().count("revoke") == 1


async def test_a_provider_outage_during_revocation_is_retried_later(world):
    credential = await connected(world, Provider.GOOGLE, AccessMode.READ_WRITE)
    world.providers.fail_with = token_endpoint_down()
    revoked = await world.credentials.revoke(ORG, credential.id)
    assert revoked.state is CredentialState.REVOKED
    assert world.db.credentials[credential.id]["pending"] and world.db.credentials[credential.id]["s"] is not None
    world.providers.fail_with = None
    assert await world.credentials.retry_revocations() == 1
    assert not world.db.credentials[credential.id]["pending"] and world.db.credentials[credential.id]["s"] is None
    assert world.providers.kinds().count("revoke") == 2


async def test_a_token_the_provider_no_longer_knows_counts_as_revoked(world):
    credential = await connected(world, Provider.GOOGLE, AccessMode.READ_WRITE)
    world.providers.fail_with = refused("invalid_token")
    await world.credentials.revoke(ORG, credential.id)
    assert not world.db.credentials[credential.id]["pending"]


async def test_credentials_are_listed_oldest_first_in_pages_without_revoked_ones_by_default(world):
    made = []
    for _ in range(3):
        made.append(await connected(world))
        world.clock.advance(timedelta(seconds=1))
    await world.credentials.revoke(ORG, made[1].id)
    first = await world.credentials.list(ORG, 1, "", False)
    second = await world.credentials.list(ORG, 1, first.next_page_token, False)
    assert [c.id for c in first.items + second.items] == [made[0].id, made[2].id]
    assert second.next_page_token == ""
    everything = await world.credentials.list(ORG, 10, "", True)
    assert [c.id for c in everything.items] == [c.id for c in made]
    with pytest.raises(InvalidArgument):
        await world.credentials.list(ORG, 1, first.next_page_token, True)  # a token of another query


async def test_a_service_account_credential_is_stored_only_after_a_token_was_obtained(world):
    world.providers.fail_with = refused("unauthorized_client")
    material = GoogleServiceAccountInput(KEY, "Grace@NW.example", "C01")
    with pytest.raises(FailedPrecondition) as error:
        await world.service_credentials.create(ORG, Provider.GOOGLE, Purpose.CALENDAR, AccessMode.FREE_BUSY, "", material)
    assert (error.value.reason, error.value.metadata["provider_error"]) == ("PROVIDER_REJECTED", "unauthorized_client")
    assert world.db.credentials == {}
    world.providers.fail_with = None
    credential = await world.service_credentials.create(
        ORG, Provider.GOOGLE, Purpose.CALENDAR, AccessMode.FREE_BUSY, "", material
    )
    assert credential.kind is CredentialKind.ORGANIZATION_WIDE
    assert (credential.tenant_id, credential.subject_id, credential.subject_email) == (
        "C01", "sa@p.iam.example", "grace@nw.example")  # fmt: skip
    (kind, details), = [c for c in world.providers.calls if c[0] == "service_account_token"][-1:]
    assert details["scopes"] == ("https://www.googleapis.com/auth/calendar.calendarlist.readonly",
                                 "https://www.googleapis.com/auth/calendar.events.freebusy")  # fmt: skip


async def test_a_service_credential_retry_returns_the_first_and_a_different_payload_conflicts(world):
    material = ZoomServerToServerInput("zoom-acct-1", "s2s", "secret")
    first = await world.service_credentials.create(ORG, Provider.ZOOM, Purpose.CONFERENCING, None, "r1", material)
    again = await world.service_credentials.create(ORG, Provider.ZOOM, Purpose.CONFERENCING, None, "r1", material)
    assert again == first
    with pytest.raises(AlreadyExists) as error:
        await world.service_credentials.create(
            ORG, Provider.ZOOM, Purpose.CONFERENCING, None, "r1", ZoomServerToServerInput("zoom-acct-1", "s2s", "other")
        )
    assert error.value.reason == "REQUEST_ID_CONFLICT"


@pytest.mark.parametrize(
    "provider, purpose, material",
    [
        (Provider.MICROSOFT, Purpose.DIRECTORY, GoogleServiceAccountInput(KEY, "a@b.example")),
        (Provider.SUCCESSFACTORS, Purpose.CONFERENCING,
         SuccessFactorsInput("https://api.sf.example", "FABRIKAM", "c", saml_assertion="PHNhbWw+")),
        (Provider.ZOOM, Purpose.DIRECTORY, ZoomServerToServerInput("acct")),
    ],
)  # fmt: skip
async def test_a_grant_that_does_not_fit_the_provider_or_purpose_is_unsupported(world, provider, purpose, material):
    with pytest.raises(InvalidArgument) as error:
        await world.service_credentials.create(ORG, provider, purpose, None, "", material)
    assert error.value.reason == "UNSUPPORTED_COMBINATION"


async def test_malformed_grant_material_names_the_fields(world):
    with pytest.raises(InvalidArgument) as error:
        await world.service_credentials.create(
            ORG, Provider.SUCCESSFACTORS, Purpose.DIRECTORY, None, "",
            SuccessFactorsInput("http://api.sf.example", "", "", private_key_pem="pem"),
        )  # fmt: skip
    assert {v.field for v in error.value.violations} == {
        "success_factors.api_server_url", "success_factors.company_id", "success_factors.client_id",
        "success_factors.user_id"}  # fmt: skip
    with pytest.raises(InvalidArgument) as error:
        await world.service_credentials.create(
            ORG, Provider.GOOGLE, Purpose.DIRECTORY, None, "", GoogleServiceAccountInput("{}", "nobody")
        )
    assert {v.field for v in error.value.violations} == {
        "google_service_account.service_account_key_json", "google_service_account.impersonated_admin_email"}


async def test_key_rotation_reencrypts_every_stored_secret(world):
    for _ in range(3):
        await connected(world)
    world.db.current_key = "k2"
    assert await world.rotation.run(batch=2) == 3
    assert {row["key"] for row in world.db.credentials.values()} == {"k2"}
    assert await world.rotation.run() == 0
