"""The compose target without Docker: ``Stack.compose`` aimed at a local stack of processes (on its
free ports) and a stand-in of Mailpit's API over the sink's .eml directory, so the code the e2e tests
run with ``RENDEZVOUS_TARGET=compose`` — readiness, addresses, token, identity URL, browser URLs, mail
through Mailpit's API, no start or stop — is exercised on every run."""

from __future__ import annotations

import asyncio
import json
import smtplib
from collections.abc import AsyncIterator, Iterator
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
from aiosmtpd.smtp import SMTP

from scripts.devstack import COMPOSE_SANDBOX_URL, SERVICES, Stack, target
from scripts.mail_reader import EmlDirectory, Mail, MailpitApi, wait_for_mail
from scripts.mailsink import EmlWriter

from .conftest import local_only
from .grpcurl import grpcurl
from .mailpit_standin import running_mailpit_standin

pytestmark = pytest.mark.e2e
DIRECTORY = "rendezvous.directory.v1.DirectoryService"
IDENTITY = "rendezvous.identity.v1.IdentityService"


def test_the_target_is_local_unless_rendezvous_target_says_compose(tmp_path):
    assert target({}) == "local"
    assert target({"RENDEZVOUS_TARGET": " Compose "}) == "compose"
    with pytest.raises(ValueError, match="RENDEZVOUS_TARGET='kubernetes'"):
        target({"RENDEZVOUS_TARGET": "kubernetes"})
    local = Stack.for_target(tmp_path, {})
    assert local.target == "local" and local.mail().__class__ is EmlDirectory
    compose = Stack.for_target(tmp_path, {"RENDEZVOUS_TARGET": "compose", "RENDEZVOUS_SERVICE_TOKEN": "s3cret"})
    assert compose.target == "compose" and compose.token == "s3cret"
    assert {name: compose.address(name) for name in SERVICES} == {
        "availability": "127.0.0.1:50051", "booking": "127.0.0.1:50052",
        "directory": "127.0.0.1:50053", "identity": "127.0.0.1:50054",
    }  # fmt: skip
    assert (compose.identity_url, compose.sandbox_url, compose.inbound_smtp_port) == (
        "http://127.0.0.1:8054", "http://127.0.0.1:8060", 2525)
    reader = compose.mail()
    assert isinstance(reader, MailpitApi) and reader.base_url == "http://127.0.0.1:8025"
    consent = f"{COMPOSE_SANDBOX_URL}/accounts.google.com/o/oauth2/v2/auth?client_id=x"
    assert compose.browser_url(consent) == "http://127.0.0.1:8060/accounts.google.com/o/oauth2/v2/auth?client_id=x"
    assert local.browser_url(consent) == consent
    compose.start()  # starts nothing: docker compose runs it
    assert compose.procs == {} and compose.stop() == {}


@pytest.fixture
async def sink(tmp_path) -> AsyncIterator[tuple[int, Path]]:
    directory = tmp_path / "mail"
    server = await asyncio.get_running_loop().create_server(
        lambda: SMTP(EmlWriter(directory), hostname="sink.local"), "127.0.0.1", 0)  # fmt: skip
    yield server.sockets[0].getsockname()[1], directory
    server.close()
    await server.wait_closed()


def _send(port: int, subject: str, to: str, envelope_to: list[str]) -> None:
    message = EmailMessage()
    message["From"] = "Invites <invites@northwind.example>"
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = f"<{subject.replace(' ', '-')}@northwind.example>"
    message.set_content(f"body of {subject}\n")
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.send_message(message, from_addr="invites@northwind.example", to_addrs=envelope_to)


async def test_the_eml_directory_and_mailpits_api_read_the_same_messages_and_envelope_recipients(sink):
    port, directory = sink
    assert await EmlDirectory(directory).messages() == []
    await asyncio.to_thread(_send, port, "first", "Bob <bob@example.org>", ["bob@example.org"])
    await asyncio.to_thread(_send, port, "second", "Carol <carol@example.org>", ["carol@example.org", "hidden@example.org"])
    await asyncio.to_thread(_send, port, "third", "dave@example.org", ["dave@example.org"])
    async with running_mailpit_standin(directory) as mailpit_url:
        mailpit = MailpitApi(mailpit_url)
        mailpit.PAGE = 2  # three messages: two pages
        for reader in (EmlDirectory(directory), mailpit):
            mail = await reader.messages()
            assert [m.subject for m in mail] == ["first", "second", "third"]  # oldest first
            assert [m.recipients for m in mail] == [
                ("bob@example.org",), ("carol@example.org", "hidden@example.org"), ("dave@example.org",)]
            assert mail[1].message.get_content().splitlines() == ["body of second"]
            assert mail[1].message["Message-ID"] == "<second@northwind.example>"
        served = (await mailpit.messages())[1].message
        assert served["Return-Path"] == "<invites@northwind.example>" and served["Bcc"] == "hidden@example.org"

        def to_carol(m: Mail) -> bool:
            return "carol@example.org" in m.recipients

        (found,) = await wait_for_mail(mailpit, to_carol, timeout=1)
        assert found.subject == "second"
        with pytest.raises(TimeoutError, match="1 of 2 expected messages"):
            await wait_for_mail(mailpit, to_carol, count=2, timeout=0.3)


@pytest.fixture(scope="module")
def running(tmp_path_factory) -> Iterator[Stack]:
    """Processes on free ports standing in for the containers."""
    local = Stack.on_free_ports(tmp_path_factory.mktemp("as-compose"))
    local.start()
    try:
        asyncio.run(local.wait_ready(timeout=90))
        yield local
    finally:
        local.stop()


def _call(stack: Stack, service: str, method: str, **data: object) -> dict[str, object]:
    full = {"directory": DIRECTORY, "identity": IDENTITY}[service]
    result = grpcurl(stack.address(service), f"{full}/{method}", token=stack.token, data=dict(data))
    assert result.returncode == 0, result.stderr
    answer: dict[str, object] = json.loads(result.stdout)
    return answer


@local_only
async def test_the_compose_target_drives_a_running_stack_by_its_ports_and_reads_its_mail_through_mailpit(running):
    async with running_mailpit_standin(running.var_dir / "mail") as mailpit_url:
        compose = Stack.compose(
            running.var_dir, {"RENDEZVOUS_SERVICE_TOKEN": running.token}, ports=running.ports,
            sandbox_port=running.sandbox_port, identity_http_port=running.identity_http_port,
            inbound_smtp_port=running.inbound_smtp_port, smtp_port=running.smtp_port, mailpit_url=mailpit_url,
        )  # fmt: skip
        compose.start()
        await compose.wait_ready(timeout=30)
        unit = _call(compose, "directory", "CreateOrganizationalUnit", display_name="Fabrikam via compose")
        unit_id = unit["organizational_unit"]["id"]  # type: ignore[index]
        _call(compose, "directory", "ConnectCalendarService", org_unit_id=unit_id,
              access_mode="CALENDAR_ACCESS_MODE_NO_ACCESS", domains=["fabrikam.example"])  # fmt: skip
        _call(compose, "identity", "SendConfirmationLink", org_unit_id=unit_id, email="carla@fabrikam.example")
        (mail,) = await wait_for_mail(compose.mail(), lambda m: m.recipients == ("carla@fabrikam.example",))
        body = mail.message.get_body(("plain",))
        assert body is not None
        link = next(line.strip() for line in body.get_content().splitlines() if "/confirm?token=" in line)
        assert link.startswith(compose.identity_url + "/confirm?token=")
        async with httpx.AsyncClient(timeout=10) as browser:
            page = await browser.get(compose.browser_url(link))
        assert page.status_code == 200, page.text
        verified = _call(compose, "identity", "VerifyOrganizer", org_unit_id=unit_id, email="carla@fabrikam.example")
        assert (verified["verified"], verified["method"]) == (True, "VERIFICATION_METHOD_EMAIL_CONFIRMATION")
        assert compose.stop() == {}
    assert all(proc.poll() is None for proc in running.procs.values())  # the "containers" still run
