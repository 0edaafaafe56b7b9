"""Access tokens against the sandbox: refresh with rotation, invalid_grant, one refresh for many
callers (and for two replicas), organization-wide grants, revocation at the provider."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import grpc
import pytest

from rendezvous.common.v1 import common_pb2
from rendezvous.identity.v1 import identity_resources_pb2 as res
from rendezvous.identity.v1 import identity_service_pb2 as pb
from tests.integration.identity.conftest import (
    AUTH,
    ORG,
    Harness,
    harness,
    identity_settings,
    rpc_error,
)

SA_EMAIL = "rendezvous-sync@rendezvous-sandbox.iam.gserviceaccount.com"


async def stored_secrets(identity: Harness, credential_id: str):
    async with identity.app.extras["uow"]() as uow:
        sealed = await uow.credentials.secrets(credential_id)
    return sealed.secrets if sealed else None


async def test_a_refresh_stores_the_rotated_refresh_token(identity: Harness):
    await identity.admin.seed("microsoft", {"settings": {"refresh_rotation": "invalidate-old"}})
    credential = await identity.connect("MICROSOFT", "CALENDAR", "FREE_BUSY", "adele@contoso.example")
    first = (await stored_secrets(identity, credential.id)).refresh_token
    tokens = []
    for _ in range(2):  # the second refresh only works with the refresh token the first one rotated in
        identity.clock.advance(timedelta(minutes=56))
        tokens.append((await identity.token(credential.id)).access_token)
    refreshes = await identity.admin.requests(route="microsoft.token")
    grant_types = [r["form"]["grant_type"] for r in refreshes]
    assert grant_types == ["authorization_code", "refresh_token", "refresh_token"]
    assert all(r["status"] == 200 for r in refreshes)
    latest = (await stored_secrets(identity, credential.id)).refresh_token
    assert latest != first and len(set(tokens)) == 2
    live = {t["token"] for t in await identity.admin.tokens("microsoft") if t["kind"] == "refresh" and not t["revoked"]}
    assert live == {latest}


async def test_invalid_grant_marks_the_credential_needs_reauthorization(identity: Harness):
    credential = await identity.connect("GOOGLE", "CALENDAR", "READ_WRITE", "ada@northwind.example")
    await identity.admin.revoke_token(provider="google", subject=credential.subject_id)  # the user revoked access
    identity.clock.advance(timedelta(minutes=58))
    status, reason, metadata, _ = await rpc_error(identity.token(credential.id))
    assert (status, reason, metadata["credential_id"]) == (
        grpc.StatusCode.FAILED_PRECONDITION, "CREDENTIAL_NEEDS_REAUTHORIZATION", credential.id)
    got = await identity.stub.GetCredential(
        pb.GetCredentialRequest(org_unit_id=ORG, credential_id=credential.id), metadata=AUTH)
    assert got.credential.state == res.Credential.STATE_NEEDS_REAUTHORIZATION
    assert "invalid_grant" in got.credential.state_message


async def test_fifty_concurrent_requests_for_an_expired_token_cause_one_refresh(identity: Harness):
    credential = await identity.connect("MICROSOFT", "CALENDAR", "READ_WRITE", "megan@contoso.example")
    identity.clock.advance(timedelta(minutes=58))
    since = max((r["seq"] for r in await identity.admin.requests()), default=0)
    answers = await asyncio.gather(*(identity.token(credential.id) for _ in range(50)))
    assert len({a.access_token for a in answers}) == 1
    refreshes = await identity.admin.requests(route="microsoft.token", since=since)
    assert len(refreshes) == 1


async def test_two_replicas_on_one_database_refresh_a_credential_once(identity: Harness, database_url):
    credential = await identity.connect("GOOGLE", "CALENDAR", "FREE_BUSY", "alan@northwind.example")
    settings = identity_settings(database_url, identity.sandbox.base_url, "127.0.0.1:1")
    async with harness(settings, identity.sandbox, identity.directory, identity.clock) as other:
        identity.clock.advance(timedelta(minutes=58))
        await identity.admin.add_fault(route="google.oauth.token", kind="latency", latency_ms=300)
        since = max((r["seq"] for r in await identity.admin.requests()), default=0)
        answers = await asyncio.gather(*(replica.token(credential.id) for replica in (identity, other) for _ in range(10)))
        assert len({a.access_token for a in answers}) == 1
        assert len(await identity.admin.requests(route="google.oauth.token", since=since)) == 1


async def test_a_failing_token_endpoint_on_refresh_is_unavailable_and_the_credential_stays_active(identity: Harness):
    credential = await identity.connect("WEBEX", "CONFERENCING", "", "grace@northwind.example")
    identity.clock.advance(timedelta(days=14))
    await identity.admin.add_fault(route="webex.access_token", kind="status", status=502)
    status, reason, _, _ = await rpc_error(identity.token(credential.id))
    assert (status, reason) == (grpc.StatusCode.UNAVAILABLE, "TOKEN_ENDPOINT_FAILED")
    got = await identity.stub.GetCredential(
        pb.GetCredentialRequest(org_unit_id=ORG, credential_id=credential.id), metadata=AUTH)
    assert got.credential.state == res.Credential.STATE_ACTIVE
    assert (await identity.token(credential.id)).access_token


async def test_microsoft_admin_consent_gives_client_credentials_tokens_with_the_required_roles(identity: Harness):
    credential = await identity.connect("MICROSOFT", "DIRECTORY", "", "megan@contoso.example", grant="ADMIN_CONSENT")
    assert credential.kind == res.Credential.KIND_ORGANIZATION_WIDE
    assert credential.tenant_id == "11111111-1111-1111-1111-111111111111"
    assert list(credential.required_scopes) == ["User.Read.All", "Organization.Read.All", "Place.Read.All"]
    token = await identity.token(credential.id, subject="aaaaaaaa-0000-4000-8000-000000000002")  # ignored: tenant-wide
    grant = next(t for t in await identity.admin.tokens("microsoft") if t["token"] == token.access_token)
    assert grant["subject"] is None and {"User.Read.All", "Place.Read.All"} <= set(grant["scopes"])
    assert [r["form"]["grant_type"] for r in await identity.admin.requests(route="microsoft.token")] == [
        "client_credentials"]


async def test_admin_consent_without_the_required_app_role_is_insufficient_scopes(identity: Harness, sandbox):
    # An app registration that lacks the spec's application permission Calendars.ReadWrite.All.
    client = json.loads((sandbox.sandbox.fixture_dir / "microsoft.json").read_text())["clients"][0]
    client["app_permissions"] = [p for p in client["app_permissions"] if p != "Calendars.ReadWrite.All"]
    await identity.admin.seed("microsoft", {"clients": [client]})
    authorization = await identity.start("MICROSOFT", "CALENDAR", "READ_WRITE", grant="ADMIN_CONSENT",
                                         login_hint="megan@contoso.example")  # fmt: skip
    page = await identity.consent(authorization, "megan@contoso.example")
    assert page.status_code == 400 and "INSUFFICIENT_SCOPES" in page.text and "Calendars.ReadWrite.All" in page.text


async def test_a_google_service_account_mints_tokens_for_the_admin_and_for_any_user(identity: Harness, sandbox):
    sa = json.loads((sandbox.sandbox.fixture_dir / "google.json").read_text())["service_accounts"][0]
    request = pb.CreateServiceCredentialRequest(
        org_unit_id=ORG, provider=common_pb2.PROVIDER_GOOGLE, purpose=res.PURPOSE_CALENDAR,
        access_mode=common_pb2.CALENDAR_ACCESS_MODE_FREE_BUSY,
        google_service_account=pb.GoogleServiceAccount(service_account_key_json=json.dumps(sa),
                                                      impersonated_admin_email="grace@northwind.example",
                                                      customer_id="C01northwind"),
    )  # fmt: skip
    credential = (await identity.stub.CreateServiceCredential(request, metadata=AUTH)).credential
    assert (credential.kind, credential.subject_id, credential.tenant_id) == (
        res.Credential.KIND_ORGANIZATION_WIDE, SA_EMAIL, "C01northwind")
    ada = await identity.token(credential.id, subject="ada@northwind.example")
    grants = {t["token"]: t for t in await identity.admin.tokens("google")}
    assert grants[ada.access_token]["email"] == "ada@northwind.example"
    assert set(grants[ada.access_token]["scopes"]) == {
        "https://www.googleapis.com/auth/calendar.calendarlist.readonly",
        "https://www.googleapis.com/auth/calendar.events.freebusy"}
    outsider = await rpc_error(identity.token(credential.id, subject="eve@tailspin.example"))
    assert outsider[:2] == (grpc.StatusCode.FAILED_PRECONDITION, "PROVIDER_REJECTED")
    sa["client_email"] = "unknown@rendezvous-sandbox.iam.gserviceaccount.com"
    request.google_service_account.service_account_key_json = json.dumps(sa)
    status, reason, _, _ = await rpc_error(identity.stub.CreateServiceCredential(request, metadata=AUTH))
    assert (status, reason) == (grpc.StatusCode.FAILED_PRECONDITION, "PROVIDER_REJECTED")


async def test_zoom_server_to_server_and_successfactors_grants_are_stored_after_a_first_token(identity: Harness):
    zoom = pb.CreateServiceCredentialRequest(
        org_unit_id=ORG, provider=common_pb2.PROVIDER_ZOOM, purpose=res.PURPOSE_CONFERENCING,
        zoom_server_to_server=pb.ZoomServerToServer(account_id="zoom-acct-1", client_id="rendezvous-zoom-s2s",
                                                   client_secret="rendezvous-zoom-s2s-secret"),
    )  # fmt: skip
    credential = (await identity.stub.CreateServiceCredential(zoom, metadata=AUTH)).credential
    assert set(credential.granted_scopes) == {"meeting:write:admin", "user:read:admin"}
    assert (await identity.token(credential.id)).access_token
    sf = pb.CreateServiceCredentialRequest(
        org_unit_id=ORG, provider=common_pb2.PROVIDER_SUCCESSFACTORS, purpose=res.PURPOSE_DIRECTORY,
        success_factors=pb.SuccessFactorsGrant(api_server_url="https://api4.successfactors.example",
                                               company_id="FABRIKAM", client_id="rendezvous-sf-client",
                                               user_id="sfapi", private_key_pem="sandbox-sf-private-key-not-secret"),
    )  # fmt: skip
    credential = (await identity.stub.CreateServiceCredential(sf, metadata=AUTH)).credential
    assert (credential.tenant_id, credential.subject_id) == ("FABRIKAM", "sfapi")
    identity.clock.advance(timedelta(days=1))
    assert (await identity.token(credential.id)).access_token
    assert [r["route"] for r in await identity.admin.requests(provider="successfactors")] == [
        "successfactors.idp", "successfactors.token", "successfactors.idp", "successfactors.token"]


@pytest.mark.parametrize(
    "provider, purpose, mode, user, route",
    [("GOOGLE", "CALENDAR", "READ_WRITE", "ada@northwind.example", "google.oauth.revoke"),
     ("ZOOM", "CONFERENCING", "", "alex@contoso.example", "zoom.oauth.revoke"),
     ("MICROSOFT", "CALENDAR", "FREE_BUSY", "alex@contoso.example", None)],
)  # fmt: skip
async def test_revoking_revokes_at_the_provider_and_erases_the_tokens(identity: Harness, provider, purpose, mode,
                                                                      user, route):  # fmt: skip
    credential = await identity.connect(provider, purpose, mode, user)
    refresh = (await stored_secrets(identity, credential.id)).refresh_token
    revoked = (await identity.stub.RevokeCredential(
        pb.RevokeCredentialRequest(org_unit_id=ORG, credential_id=credential.id), metadata=AUTH)).credential
    assert revoked.state == res.Credential.STATE_REVOKED and revoked.HasField("revoke_time")
    assert await stored_secrets(identity, credential.id) is None
    grant = next(t for t in await identity.admin.tokens(provider.lower()) if t["token"] == refresh)
    if route is not None:
        assert [r["status"] for r in await identity.admin.requests(route=route)] == [200]
        assert grant["revoked"]
    else:  # Microsoft has no endpoint revoking one app's tokens: they are only erased here
        assert not grant["revoked"]
    again = (await identity.stub.RevokeCredential(
        pb.RevokeCredentialRequest(org_unit_id=ORG, credential_id=credential.id), metadata=AUTH)).credential
    assert again == revoked
    status, reason, _, _ = await rpc_error(identity.token(credential.id))
    assert (status, reason) == (grpc.StatusCode.FAILED_PRECONDITION, "CREDENTIAL_REVOKED")
