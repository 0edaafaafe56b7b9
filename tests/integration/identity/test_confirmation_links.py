"""Confirmation links through a real SMTP server (aiosmtpd) and identity's HTTP endpoint, and
VerifyOrganizer by email confirmation and by directory."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from email import message_from_bytes
from email.message import Message
from urllib.parse import parse_qs, urlsplit

import grpc
import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from rendezvous.common.v1 import common_pb2
from rendezvous.directory.v1 import directory_resources_pb2 as dres
from rendezvous.identity.v1 import identity_service_pb2 as pb
from tests.integration.identity.conftest import AUTH, ORG, Harness, harness, identity_settings, rpc_error

EMAIL = "carla@fabrikam.example"


class Inbox:
    """Keeps what arrives; ``refuse`` makes the server answer 554 to the message."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.refuse = False

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.refuse:
            return "554 5.7.1 Message refused"
        self.messages.append(message_from_bytes(envelope.original_content or b""))
        return "250 OK"


@pytest.fixture
async def smtp() -> AsyncIterator[tuple[Inbox, int]]:
    inbox = Inbox()
    server = await asyncio.get_running_loop().create_server(lambda: SMTP(inbox, hostname="test.local"), "127.0.0.1", 0)
    yield inbox, server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


@pytest.fixture
async def identity(database_url, sandbox, directory_stand_in, smtp) -> AsyncIterator[Harness]:
    servicer, address = directory_stand_in
    settings = identity_settings(database_url, sandbox.base_url, address, smtp_port=smtp[1])
    async with harness(settings, sandbox, servicer) as running:
        running.directory.serve(EMAIL, "NO_ACCESS")
        yield running


def _send(identity: Harness, email: str = EMAIL, request_id: str = ""):
    return identity.stub.SendConfirmationLink(
        pb.SendConfirmationLinkRequest(org_unit_id=ORG, email=email, request_id=request_id), metadata=AUTH)


def _verify(identity: Harness, email: str = EMAIL):
    return identity.stub.VerifyOrganizer(pb.VerifyOrganizerRequest(org_unit_id=ORG, email=email), metadata=AUTH)


def _link(message: Message) -> str:
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    body = payload.decode()
    return next(line.strip() for line in body.splitlines() if "/confirm?token=" in line)


async def test_a_mailed_link_confirms_the_email_once_and_verifies_the_organizer(identity: Harness, smtp):
    inbox, _ = smtp
    before = await _verify(identity)
    assert (before.verified, before.reason) == (False, "EMAIL_NOT_CONFIRMED")
    sent = await _send(identity, "Carla@Fabrikam.example", "r-1")
    assert sent.expire_time.ToDatetime() > identity.clock.now().replace(tzinfo=None) + timedelta(hours=23)
    (message,) = inbox.messages
    assert message["To"] == EMAIL and message.get_content_type() == "text/plain"
    link = _link(message)
    assert link.startswith(identity.base_url + "/confirm?token=")
    page = await identity.http.get(link)
    assert page.status_code == 200 and EMAIL in page.text
    again = await identity.http.get(link)
    assert again.status_code == 409
    status, reason, _, _ = await rpc_error(identity.stub.ConfirmEmail(
        pb.ConfirmEmailRequest(token=parse_qs(urlsplit(link).query)["token"][0]), metadata=AUTH))
    assert (status, reason) == (grpc.StatusCode.FAILED_PRECONDITION, "CONFIRMATION_TOKEN_USED")
    after = await _verify(identity)
    assert (after.verified, after.method) == (True, pb.VERIFICATION_METHOD_EMAIL_CONFIRMATION)
    assert after.access_mode == common_pb2.CALENDAR_ACCESS_MODE_NO_ACCESS and after.HasField("expire_time")
    retry = await _send(identity, EMAIL, "r-1")
    assert retry.expire_time == sent.expire_time and len(inbox.messages) == 1  # no second mail


async def test_a_late_or_tampered_link_fails_clearly(identity: Harness, smtp):
    inbox, _ = smtp
    await _send(identity)
    token = parse_qs(urlsplit(_link(inbox.messages[0])).query)["token"][0]
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    status, reason, _, violations = await rpc_error(
        identity.stub.ConfirmEmail(pb.ConfirmEmailRequest(token=tampered), metadata=AUTH))
    assert (status, reason, violations[0][0]) == (grpc.StatusCode.INVALID_ARGUMENT, "CONFIRMATION_TOKEN_INVALID", "token")
    assert (await identity.http.get(f"{identity.base_url}/confirm?token={tampered}")).status_code == 400
    identity.clock.advance(timedelta(hours=24, seconds=1))
    status, reason, _, _ = await rpc_error(identity.stub.ConfirmEmail(pb.ConfirmEmailRequest(token=token), metadata=AUTH))
    assert (status, reason) == (grpc.StatusCode.FAILED_PRECONDITION, "CONFIRMATION_TOKEN_EXPIRED")
    assert (await identity.http.get(f"{identity.base_url}/confirm?token={token}")).status_code == 410


async def test_a_refusing_or_absent_mail_server_is_unavailable_and_nothing_claims_it_was_sent(identity: Harness, smtp):
    inbox, _ = smtp
    inbox.refuse = True
    status, reason, metadata, _ = await rpc_error(_send(identity, EMAIL, "r-9"))
    assert (status, reason, metadata["email"]) == (grpc.StatusCode.UNAVAILABLE, "MAIL_DELIVERY_FAILED", EMAIL)
    inbox.refuse = False
    await _send(identity, EMAIL, "r-9")  # the retry sends: nothing remembered the failed attempt as sent
    assert len(inbox.messages) == 1


async def test_no_link_goes_to_a_domain_no_calendar_connection_serves(identity: Harness, smtp):
    status, reason, metadata, _ = await rpc_error(_send(identity, "eve@tailspin.example"))
    assert (status, reason, metadata["domain"]) == (
        grpc.StatusCode.FAILED_PRECONDITION, "EMAIL_DOMAIN_NOT_SERVED", "tailspin.example")
    assert smtp[0].messages == []


async def test_an_active_synced_account_is_verified_by_directory_and_an_offboarded_one_is_not(identity: Harness):
    synced = dres.Account(id="acc-1", email=EMAIL, state=dres.Account.STATE_ACTIVE,
                          source=dres.Account.SOURCE_SUCCESSFACTORS)  # fmt: skip
    identity.directory.serve(EMAIL, "NO_ACCESS", account=synced)
    outcome = await _verify(identity)
    assert (outcome.verified, outcome.method, outcome.account_id) == (True, pb.VERIFICATION_METHOD_DIRECTORY, "acc-1")
    synced.state = dres.Account.STATE_DEACTIVATED
    identity.directory.serve(EMAIL, "NO_ACCESS", account=synced)
    outcome = await _verify(identity)
    assert (outcome.verified, outcome.reason) == (False, "ACCOUNT_NOT_ACTIVE")


async def test_an_unreachable_directory_fails_verification_as_unavailable(database_url, sandbox, directory_stand_in):
    settings = identity_settings(database_url, sandbox.base_url, "127.0.0.1:1", peer_deadline_seconds=1.0)
    async with harness(settings, sandbox, directory_stand_in[0]) as identity:
        status, reason, metadata, _ = await rpc_error(_verify(identity))
    assert (status, reason, metadata["dependency"]) == (grpc.StatusCode.UNAVAILABLE, "DEPENDENCY_UNAVAILABLE", "directory")
