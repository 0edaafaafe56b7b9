"""VerifyOrganizer with READ_WRITE / FREE_BUSY connections: the provider (sandbox over HTTP) is asked
whether it knows the mailbox — Google free/busy, Microsoft getSchedule."""

from __future__ import annotations

import json

import grpc
import pytest

from rendezvous.common.v1 import common_pb2
from rendezvous.identity.v1 import identity_resources_pb2 as res
from rendezvous.identity.v1 import identity_service_pb2 as pb
from tests.integration.identity.conftest import AUTH, ORG, Harness, rpc_error


def _verify(identity: Harness, email: str):
    return identity.stub.VerifyOrganizer(pb.VerifyOrganizerRequest(org_unit_id=ORG, email=email), metadata=AUTH)


@pytest.mark.parametrize(
    "provider, mode, user, colleague, stranger, route",
    [
        ("GOOGLE", "READ_WRITE", "ada@northwind.example", "alan@northwind.example", "nobody@northwind.example",
         "google.freeBusy"),
        ("MICROSOFT", "FREE_BUSY", "adele@contoso.example", "alex@contoso.example", "nobody@contoso.example",
         "microsoft.getSchedule"),
    ],
)  # fmt: skip
async def test_the_calendar_provider_confirms_mailboxes_it_knows(identity: Harness, provider, mode, user, colleague,
                                                                 stranger, route):  # fmt: skip
    credential = await identity.connect(provider, "CALENDAR", mode, user)
    for email in (user, colleague, stranger):
        identity.directory.serve(email, mode, provider, credential.id)
    own = await _verify(identity, user)
    assert (own.verified, own.method) == (True, pb.VERIFICATION_METHOD_CALENDAR_AUTHORIZATION)
    assert await identity.admin.requests(route=route) == []  # the credential's own user needs no call
    known = await _verify(identity, colleague)
    assert (known.verified, known.method) == (True, pb.VERIFICATION_METHOD_CALENDAR_AUTHORIZATION)
    assert known.access_mode == common_pb2.CalendarAccessMode.Value(f"CALENDAR_ACCESS_MODE_{mode}")
    unknown = await _verify(identity, stranger)
    assert (unknown.verified, unknown.reason) == (False, "MAILBOX_NOT_FOUND")
    assert len(await identity.admin.requests(route=route)) == 2


async def test_a_google_service_account_connection_confirms_domain_mailboxes(identity: Harness, sandbox):
    sa = json.loads((sandbox.sandbox.fixture_dir / "google.json").read_text())["service_accounts"][0]
    credential = (await identity.stub.CreateServiceCredential(pb.CreateServiceCredentialRequest(
        org_unit_id=ORG, provider=common_pb2.PROVIDER_GOOGLE, purpose=res.PURPOSE_CALENDAR,
        access_mode=common_pb2.CALENDAR_ACCESS_MODE_FREE_BUSY,
        google_service_account=pb.GoogleServiceAccount(service_account_key_json=json.dumps(sa),
                                                      impersonated_admin_email="grace@northwind.example"),
    ), metadata=AUTH)).credential  # fmt: skip
    identity.directory.serve("katherine@northwind.example", "FREE_BUSY", "GOOGLE", credential.id)
    outcome = await _verify(identity, "katherine@northwind.example")
    assert (outcome.verified, outcome.method) == (True, pb.VERIFICATION_METHOD_CALENDAR_AUTHORIZATION)


async def test_an_email_no_connection_serves_is_never_verified(identity: Harness):
    credential = await identity.connect("GOOGLE", "CALENDAR", "READ_WRITE", "ada@northwind.example")
    identity.directory.serve("ada@northwind.example", "READ_WRITE", "GOOGLE", credential.id)
    outcome = await _verify(identity, "ada@elsewhere.example")
    assert (outcome.verified, outcome.reason, outcome.calendar_connection_id) == (False, "EMAIL_DOMAIN_NOT_SERVED", "")


async def test_a_provider_outage_fails_verification_instead_of_answering_no(identity: Harness):
    credential = await identity.connect("MICROSOFT", "CALENDAR", "READ_WRITE", "megan@contoso.example")
    identity.directory.serve("alex@contoso.example", "READ_WRITE", "MICROSOFT", credential.id)
    await identity.admin.add_fault(route="microsoft.getSchedule", kind="status", status=503, times=5)
    status, reason, metadata, _ = await rpc_error(_verify(identity, "alex@contoso.example"))
    assert (status, reason, metadata["provider"]) == (grpc.StatusCode.UNAVAILABLE, "PROVIDER_UNAVAILABLE", "MICROSOFT")


async def test_a_revoked_connection_credential_does_not_verify(identity: Harness):
    credential = await identity.connect("GOOGLE", "CALENDAR", "READ_WRITE", "ada@northwind.example")
    identity.directory.serve("alan@northwind.example", "READ_WRITE", "GOOGLE", credential.id)
    await identity.stub.RevokeCredential(pb.RevokeCredentialRequest(org_unit_id=ORG, credential_id=credential.id),
                                         metadata=AUTH)  # fmt: skip
    outcome = await _verify(identity, "alan@northwind.example")
    assert (outcome.verified, outcome.reason) == (False, "CREDENTIAL_NEEDS_REAUTHORIZATION")
