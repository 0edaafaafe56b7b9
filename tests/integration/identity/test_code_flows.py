"""The full OAuth code flow against the sandbox over HTTP, for every provider with a browser flow."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import grpc
import pytest

from rendezvous.common.v1 import common_pb2
from rendezvous.identity.v1 import identity_resources_pb2 as res
from rendezvous.identity.v1 import identity_service_pb2 as pb
from tests.integration.identity.conftest import AUTH, ORG, Harness, rpc_error

G = "https://www.googleapis.com/auth/"


@pytest.mark.parametrize(
    "provider, purpose, mode, user, email, tenant, subject, required",
    [
        ("GOOGLE", "CALENDAR", "READ_WRITE", "ada@northwind.example", "ada@northwind.example", "",
         "103400000000000000001", ["email", "profile", G + "calendar"]),
        ("GOOGLE", "DIRECTORY", "", "grace@northwind.example", "", "", "103400000000000000002",
         [G + "admin.directory.user.readonly", G + "admin.directory.domain.readonly"]),
        ("GOOGLE", "CONFERENCING", "", "alan@northwind.example", "", "", "103400000000000000003",
         [G + "meetings.space.created", G + "meetings.space.readonly", G + "meetings.space.settings"]),
        ("MICROSOFT", "CALENDAR", "FREE_BUSY", "adele@contoso.example", "adele@contoso.example",
         "11111111-1111-1111-1111-111111111111", "aaaaaaaa-0000-4000-8000-000000000002",
         ["openid", "email", "Calendars.ReadBasic.All"]),
        # Without `openid` (not in the spec's list) the user is only known from a JWT access token;
        # the sandbox's tokens are opaque, so tenant and subject stay empty there.
        ("MICROSOFT", "DIRECTORY", "", "megan@contoso.example", "", "", "",
         ["User.Read.All", "Organization.Read.All", "Place.Read.All"]),
        ("ZOOM", "CONFERENCING", "", "adele@contoso.example", "adele@contoso.example", "zoom-acct-1",
         "zAdeleV4nce4Contoso003", ["meeting:write:admin", "user:read:admin"]),
        ("WEBEX", "CONFERENCING", "", "grace@northwind.example", "grace@northwind.example", None, None,
         ["spark:kms", "meeting:admin_schedule_write", "spark:people_read"]),
    ],
)  # fmt: skip
async def test_the_code_flow_stores_an_active_credential_keyed_by_the_providers_ids(
    identity: Harness, provider, purpose, mode, user, email, tenant, subject, required
):
    credential = await identity.connect(provider, purpose, mode, user)
    assert credential.state == res.Credential.STATE_ACTIVE
    assert credential.kind == res.Credential.KIND_USER_DELEGATED
    assert list(credential.required_scopes) == required
    assert set(required) <= set(credential.granted_scopes)
    assert credential.subject_email == email
    if tenant is not None:
        assert (credential.tenant_id, credential.subject_id) == (tenant, subject)
    else:
        assert credential.subject_id and credential.tenant_id
    token = await identity.token(credential.id)
    assert token.access_token and token.token_type.lower() == "bearer"


async def test_the_browser_is_sent_back_to_the_return_uri_with_the_outcome(identity: Harness):
    authorization = await identity.start("GOOGLE", "CALENDAR", "FREE_BUSY", login_hint="alan@northwind.example",
                                         return_uri="https://admin.acme.example/connected?tab=calendars")  # fmt: skip
    page = await identity.consent(authorization, "alan@northwind.example")
    assert page.status_code == 303
    back = urlsplit(page.headers["location"])
    assert (back.scheme, back.netloc, back.path) == ("https", "admin.acme.example", "/connected")
    assert parse_qs(back.query) == {"tab": ["calendars"], "authorization_id": [authorization.id], "state": ["COMPLETED"]}
    again = await identity.http.get(identity.last_callback)
    assert again.status_code == 303
    assert parse_qs(urlsplit(again.headers["location"]).query)["error"] == ["STATE_ALREADY_USED"]


async def _code_and_state(identity: Harness, authorization, user: str) -> tuple[str, str]:
    """Consent at the provider but stop before identity's callback: the redirect's code and state."""
    at_provider = await identity.http.get(authorization.authorization_url + f"&login_hint={user}"
                                          if "login_hint=" not in authorization.authorization_url
                                          else authorization.authorization_url)  # fmt: skip
    params = parse_qs(urlsplit(at_provider.headers["location"]).query)
    assert "code" in params, params
    return params["code"][0], params["state"][0]


def _complete(identity: Harness, code: str, state: str):
    return identity.stub.CompleteAuthorization(pb.CompleteAuthorizationRequest(state=state, code=code), metadata=AUTH)


async def test_a_replayed_state_is_refused_and_stores_nothing_more(identity: Harness):
    authorization = await identity.start("MICROSOFT", "CALENDAR", "READ_WRITE", login_hint="megan@contoso.example")
    code, state = await _code_and_state(identity, authorization, "megan@contoso.example")
    done = await _complete(identity, code, state)
    assert done.credential.state == res.Credential.STATE_ACTIVE
    status, reason, metadata, _ = await rpc_error(_complete(identity, code, state))
    assert (status, reason, metadata["authorization_id"]) == (
        grpc.StatusCode.FAILED_PRECONDITION, "STATE_ALREADY_USED", authorization.id)
    listed = await identity.stub.ListCredentials(pb.ListCredentialsRequest(org_unit_id=ORG), metadata=AUTH)
    assert len(listed.credentials) == 1


async def test_an_unknown_state_is_invalid_argument(identity: Harness):
    status, reason, _, violations = await rpc_error(_complete(identity, "code", "made-up-state"))
    assert (status, reason, [f for f, _ in violations]) == (grpc.StatusCode.INVALID_ARGUMENT, "STATE_UNKNOWN", ["state"])
    page = await identity.http.get(f"{identity.base_url}/oauth/callback?state=made-up&code=x")
    assert page.status_code == 400 and "STATE_UNKNOWN" in page.text


async def test_an_expired_state_is_refused_and_the_authorization_reads_expired(identity: Harness):
    authorization = await identity.start("GOOGLE", "CALENDAR", "READ_WRITE", login_hint="ada@northwind.example")
    code, state = await _code_and_state(identity, authorization, "ada@northwind.example")
    identity.clock.advance(timedelta(minutes=10, seconds=1))
    status, reason, _, _ = await rpc_error(_complete(identity, code, state))
    assert (status, reason) == (grpc.StatusCode.FAILED_PRECONDITION, "STATE_EXPIRED")
    got = await identity.stub.GetAuthorization(
        pb.GetAuthorizationRequest(org_unit_id=ORG, authorization_id=authorization.id), metadata=AUTH)
    assert got.authorization.state == res.Authorization.STATE_EXPIRED
    assert await identity.admin.requests(route="google.oauth.token") == []


async def test_granular_consent_with_fewer_scopes_is_insufficient_scopes_naming_them(identity: Harness):
    await identity.admin.consent("google", "ada@northwind.example", grant_only=[G + "calendar.events.freebusy"])
    authorization = await identity.start("GOOGLE", "CALENDAR", "FREE_BUSY", login_hint="ada@northwind.example")
    code, state = await _code_and_state(identity, authorization, "ada@northwind.example")
    status, reason, metadata, _ = await rpc_error(_complete(identity, code, state))
    assert (status, reason) == (grpc.StatusCode.FAILED_PRECONDITION, "INSUFFICIENT_SCOPES")
    assert metadata["missing_scopes"] == G + "calendar.calendarlist.readonly"
    got = await identity.stub.GetAuthorization(
        pb.GetAuthorizationRequest(org_unit_id=ORG, authorization_id=authorization.id), metadata=AUTH)
    assert got.authorization.state == res.Authorization.STATE_FAILED
    assert got.authorization.failure_reason == "INSUFFICIENT_SCOPES"
    assert "calendar.calendarlist.readonly" in got.authorization.failure_message
    listed = await identity.stub.ListCredentials(pb.ListCredentialsRequest(org_unit_id=ORG, show_revoked=True),
                                                 metadata=AUTH)  # fmt: skip
    assert list(listed.credentials) == []
    revoked = [t for t in await identity.admin.tokens("google") if t["kind"] == "refresh"]
    assert revoked and all(t["revoked"] for t in revoked)  # the partial grant was handed back


async def test_a_denied_consent_fails_the_authorization(identity: Harness):
    await identity.admin.consent("microsoft", "alex@contoso.example", deny=True)
    authorization = await identity.start("MICROSOFT", "CALENDAR", "FREE_BUSY", login_hint="alex@contoso.example")
    page = await identity.consent(authorization, "alex@contoso.example")
    assert page.status_code == 400 and "AUTHORIZATION_DENIED" in page.text
    got = await identity.stub.GetAuthorization(
        pb.GetAuthorizationRequest(org_unit_id=ORG, authorization_id=authorization.id), metadata=AUTH)
    assert got.authorization.failure_reason == "AUTHORIZATION_DENIED"


@pytest.mark.parametrize("fault", [{"kind": "status", "status": 503}, {"kind": "timeout"}], ids=["5xx", "timeout"])
async def test_a_failing_token_endpoint_stores_nothing_and_the_redirect_can_be_retried(identity: Harness, fault):
    authorization = await identity.start("GOOGLE", "CALENDAR", "READ_WRITE", login_hint="grace@northwind.example")
    code, state = await _code_and_state(identity, authorization, "grace@northwind.example")
    await identity.admin.add_fault(route="google.oauth.token", **fault)
    status, reason, metadata, _ = await rpc_error(_complete(identity, code, state))
    assert (status, reason, metadata["provider"]) == (grpc.StatusCode.UNAVAILABLE, "TOKEN_ENDPOINT_FAILED", "GOOGLE")
    got = await identity.stub.GetAuthorization(
        pb.GetAuthorizationRequest(org_unit_id=ORG, authorization_id=authorization.id), metadata=AUTH)
    assert got.authorization.state == res.Authorization.STATE_PENDING
    listed = await identity.stub.ListCredentials(pb.ListCredentialsRequest(org_unit_id=ORG), metadata=AUTH)
    assert list(listed.credentials) == []
    done = await _complete(identity, code, state)
    assert done.authorization.state == res.Authorization.STATE_COMPLETED


async def test_bad_requests_are_refused_with_their_reasons(identity: Harness):
    start = identity.stub.StartAuthorization
    cases = [
        (pb.StartAuthorizationRequest(org_unit_id=ORG, provider=common_pb2.PROVIDER_GOOGLE, purpose=res.PURPOSE_CALENDAR,
                                      access_mode=common_pb2.CALENDAR_ACCESS_MODE_NO_ACCESS),
         grpc.StatusCode.FAILED_PRECONDITION, "AUTHORIZATION_NOT_REQUIRED"),
        (pb.StartAuthorizationRequest(org_unit_id=ORG, provider=common_pb2.PROVIDER_ZOOM, purpose=res.PURPOSE_CALENDAR,
                                      access_mode=common_pb2.CALENDAR_ACCESS_MODE_READ_WRITE),
         grpc.StatusCode.INVALID_ARGUMENT, "UNSUPPORTED_COMBINATION"),
        (pb.StartAuthorizationRequest(org_unit_id=ORG, provider=common_pb2.PROVIDER_GOOGLE, purpose=res.PURPOSE_CALENDAR,
                                      access_mode=common_pb2.CALENDAR_ACCESS_MODE_READ_WRITE, return_uri="/x#y"),
         grpc.StatusCode.INVALID_ARGUMENT, "REDIRECT_URI_INVALID"),
        (pb.StartAuthorizationRequest(org_unit_id=ORG, provider=common_pb2.Provider.ValueType(42),
                                      purpose=res.PURPOSE_CALENDAR,
                                      access_mode=common_pb2.CALENDAR_ACCESS_MODE_READ_WRITE),
         grpc.StatusCode.INVALID_ARGUMENT, "FIELD_INVALID"),
    ]  # fmt: skip
    for request, code, expected in cases:
        status, reason, _, _ = await rpc_error(start(request, metadata=AUTH))
        assert (status, reason) == (code, expected)
