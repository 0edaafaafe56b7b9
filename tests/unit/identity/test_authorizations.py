"""Starting and completing authorizations: single-use expiring state, scopes checked, nothing half-stored."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from kit.errors import AlreadyExists, FailedPrecondition, InvalidArgument, Unavailable
from services.identity.domain.model import AuthorizationState, CredentialKind, CredentialState
from services.identity.domain.scopes import AccessMode, GrantType, Provider, Purpose
from services.identity.domain.secrets import secret_hash
from services.identity.usecases.authorizations import Redirect
from tests.unit.identity.fakes import refused, token_endpoint_down

ORG = "org-1"


async def start(world, provider=Provider.GOOGLE, purpose=Purpose.CALENDAR, mode=AccessMode.READ_WRITE,
                grant=None, return_uri="", request_id=""):  # fmt: skip
    return await world.authorizations.start(ORG, provider, purpose, mode, grant, return_uri, "", request_id)


def state_of(view) -> str:
    return parse_qs(urlsplit(view.authorization_url).query)["state"][0]


async def test_a_started_authorization_is_pending_with_the_catalogue_scopes_and_only_a_hash_of_its_state(world):
    view = await start(world)
    authorization = view.authorization
    assert authorization.state is AuthorizationState.PENDING
    assert authorization.requested_scopes == ("email", "profile", "https://www.googleapis.com/auth/calendar")
    assert authorization.expire_time == world.clock.now() + timedelta(minutes=10)
    row = world.db.authorizations[authorization.id]
    assert row["hash"] == secret_hash(state_of(view)) != state_of(view)
    assert row["secrets"].code_verifier and len(row["secrets"].code_verifier) >= 43


async def test_bad_input_names_every_field_and_writes_nothing(world):
    with pytest.raises(InvalidArgument) as error:
        await world.authorizations.start("", None, None, None, None, "", "x" * 400, "bad id!")
    assert {v.field for v in error.value.violations} == {"org_unit_id", "provider", "purpose", "login_hint", "request_id"}
    assert error.value.metadata["field"] == "org_unit_id"
    with pytest.raises(InvalidArgument) as error:
        await start(world, purpose=Purpose.DIRECTORY, mode=AccessMode.READ_WRITE)
    assert [v.field for v in error.value.violations] == ["access_mode"]
    assert world.db.authorizations == {}


@pytest.mark.parametrize("uri", ["/relative", "ftp://x.example/a", "https://x.example/a#frag", "https://", "http://a b"])
async def test_a_return_uri_that_is_not_absolute_http_without_fragment_is_refused(world, uri):
    with pytest.raises(InvalidArgument) as error:
        await start(world, return_uri=uri)
    assert error.value.reason == "REDIRECT_URI_INVALID"
    assert error.value.violations[0].field == "return_uri"


async def test_no_access_and_unsupported_combinations_are_refused_with_their_reasons(world):
    with pytest.raises(FailedPrecondition) as no_access:
        await start(world, mode=AccessMode.NO_ACCESS)
    assert no_access.value.reason == "AUTHORIZATION_NOT_REQUIRED"
    with pytest.raises(InvalidArgument) as zoom_calendar:
        await start(world, provider=Provider.ZOOM)
    assert zoom_calendar.value.reason == "UNSUPPORTED_COMBINATION"
    with pytest.raises(InvalidArgument) as google_admin:
        await start(world, grant=GrantType.ADMIN_CONSENT)
    assert google_admin.value.reason == "UNSUPPORTED_COMBINATION"


async def test_a_retry_with_the_same_request_id_returns_the_same_authorization_and_url(world):
    first = await start(world, request_id="r-1")
    again = await start(world, request_id="r-1")
    assert (again.authorization.id, again.authorization_url) == (first.authorization.id, first.authorization_url)
    with pytest.raises(AlreadyExists) as error:
        await start(world, mode=AccessMode.FREE_BUSY, request_id="r-1")
    assert error.value.reason == "REQUEST_ID_CONFLICT"


async def test_completing_stores_an_active_credential_keyed_by_the_providers_subject(world):
    view = await start(world)
    verifier = world.db.authorizations[view.authorization.id]["secrets"].code_verifier
    authorization, credential = await world.authorizations.complete(Redirect(state_of(view), code="c-1"))
    assert authorization.state is AuthorizationState.COMPLETED and authorization.credential_id == credential.id
    assert credential.state is CredentialState.ACTIVE and credential.kind is CredentialKind.USER_DELEGATED
    assert (credential.tenant_id, credential.subject_id) == ("tenant-1", "subject-1")
    assert set(credential.granted_scopes) >= set(credential.required_scopes)
    stored = world.db.credentials[credential.id]["s"]
    assert (stored.access_token, stored.refresh_token) == ("access-1", "refresh-1")
    assert world.db.authorizations[authorization.id]["secrets"] is None  # verifier forgotten once final
    exchange = next(d for k, d in world.providers.calls if k == "exchange_code")
    assert (exchange["code"], exchange["verifier"]) == ("c-1", verifier)


async def test_a_state_is_single_use(world):
    view = await start(world)
    await world.authorizations.complete(Redirect(state_of(view), code="c-1"))
    with pytest.raises(FailedPrecondition) as error:
        await world.authorizations.complete(Redirect(state_of(view), code="c-1"))
    assert error.value.reason == "STATE_ALREADY_USED"
    assert len(world.db.credentials) == 1


async def test_an_unknown_or_altered_state_is_invalid_argument(world):
    view = await start(world)
    with pytest.raises(InvalidArgument) as error:
        await world.authorizations.complete(Redirect(state_of(view) + "x", code="c-1"))
    assert error.value.reason == "STATE_UNKNOWN"


async def test_a_late_redirect_is_state_expired_and_the_authorization_reads_expired(world):
    view = await start(world)
    world.clock.advance(timedelta(minutes=10, seconds=1))
    with pytest.raises(FailedPrecondition) as error:
        await world.authorizations.complete(Redirect(state_of(view), code="c-1"))
    assert error.value.reason == "STATE_EXPIRED"
    got = await world.authorizations.get(ORG, view.authorization.id)
    assert got.authorization.state is AuthorizationState.EXPIRED and got.authorization_url == ""
    with pytest.raises(FailedPrecondition) as again:
        await world.authorizations.complete(Redirect(state_of(view), code="c-1"))
    assert again.value.reason == "STATE_EXPIRED"
    assert world.providers.kinds().count("exchange_code") == 0


async def test_a_denied_consent_fails_the_authorization(world):
    view = await start(world)
    with pytest.raises(FailedPrecondition) as error:
        await world.authorizations.complete(Redirect(state_of(view), error="access_denied", error_description="no"))
    assert (error.value.reason, error.value.metadata["provider_error"]) == ("AUTHORIZATION_DENIED", "access_denied")
    got = await world.authorizations.get(ORG, view.authorization.id)
    assert (got.authorization.state, got.authorization.failure_reason) == (AuthorizationState.FAILED, "AUTHORIZATION_DENIED")


async def test_fewer_granted_scopes_store_no_credential_and_name_the_missing_ones(world):
    view = await start(world, mode=AccessMode.FREE_BUSY)
    world.providers.granted = frozenset({"https://www.googleapis.com/auth/userinfo.email", "profile",
                                         "https://www.googleapis.com/auth/calendar.events.freebusy"})  # fmt: skip
    with pytest.raises(FailedPrecondition) as error:
        await world.authorizations.complete(Redirect(state_of(view), code="c-1"))
    assert error.value.reason == "INSUFFICIENT_SCOPES"
    assert error.value.metadata["missing_scopes"] == "https://www.googleapis.com/auth/calendar.calendarlist.readonly"
    assert world.db.credentials == {}
    assert world.db.authorizations[view.authorization.id]["a"].failure_reason == "INSUFFICIENT_SCOPES"
    assert "revoke" in world.providers.kinds()  # the unusable tokens are given back


async def test_a_token_endpoint_outage_keeps_the_authorization_pending_so_the_redirect_can_be_retried(world):
    view = await start(world)
    world.providers.fail_with = token_endpoint_down()
    with pytest.raises(Unavailable) as error:
        await world.authorizations.complete(Redirect(state_of(view), code="c-1"))
    assert error.value.reason == "TOKEN_ENDPOINT_FAILED"
    assert world.db.credentials == {}
    assert world.db.authorizations[view.authorization.id]["a"].state is AuthorizationState.PENDING
    world.providers.fail_with = None
    _, credential = await world.authorizations.complete(Redirect(state_of(view), code="c-1"))
    assert list(world.db.credentials) == [credential.id]


async def test_a_refused_code_fails_the_authorization_as_provider_rejected(world):
    view = await start(world)
    world.providers.fail_with = refused("invalid_grant")
    with pytest.raises(FailedPrecondition) as error:
        await world.authorizations.complete(Redirect(state_of(view), code="c-1"))
    assert (error.value.reason, error.value.metadata["provider_error"]) == ("PROVIDER_REJECTED", "invalid_grant")
    assert world.db.authorizations[view.authorization.id]["a"].state is AuthorizationState.FAILED


async def test_two_simultaneous_redirects_exchange_the_code_once(world):
    view = await start(world)
    world.providers.delay = 0.01
    results = await asyncio.gather(
        world.authorizations.complete(Redirect(state_of(view), code="c-1")),
        world.authorizations.complete(Redirect(state_of(view), code="c-1")),
        return_exceptions=True,
    )
    assert sum(isinstance(r, tuple) for r in results) == 1
    assert [r.reason for r in results if isinstance(r, FailedPrecondition)] == ["STATE_ALREADY_USED"]
    assert world.providers.kinds().count("exchange_code") == 1


async def test_admin_consent_stores_an_organization_wide_credential_checked_against_the_app_roles(world):
    view = await start(world, provider=Provider.MICROSOFT, purpose=Purpose.DIRECTORY, mode=None,
                       grant=GrantType.ADMIN_CONSENT)  # fmt: skip
    assert view.authorization.requested_scopes == ()
    roles = "https://graph.microsoft.com/User.Read.All https://graph.microsoft.com/Organization.Read.All"
    with pytest.raises(FailedPrecondition) as error:
        await world.authorizations.complete(Redirect(state_of(view), admin_consent=True, tenant="t-9", scope=roles))
    assert error.value.metadata["missing_scopes"] == "Place.Read.All"
    view = await start(world, provider=Provider.MICROSOFT, purpose=Purpose.DIRECTORY, mode=None,
                       grant=GrantType.ADMIN_CONSENT)  # fmt: skip
    redirect = Redirect(state_of(view), admin_consent=True, tenant="t-9",
                        scope=roles + " https://graph.microsoft.com/Place.Read.All")  # fmt: skip
    _, credential = await world.authorizations.complete(redirect)
    assert credential.kind is CredentialKind.ORGANIZATION_WIDE
    assert credential.required_scopes == ("User.Read.All", "Organization.Read.All", "Place.Read.All")


async def test_a_code_cannot_complete_an_admin_consent_authorization(world):
    view = await start(world, provider=Provider.MICROSOFT, purpose=Purpose.DIRECTORY, mode=None,
                       grant=GrantType.ADMIN_CONSENT)  # fmt: skip
    with pytest.raises(InvalidArgument) as error:
        await world.authorizations.complete(Redirect(state_of(view), code="c-1"))
    assert error.value.violations[0].field == "admin_consent"
