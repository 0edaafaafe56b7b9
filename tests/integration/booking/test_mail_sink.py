"""A real SMTP server (aiosmtpd) for the mail tests: records what arrives, can refuse and go away.

Imported by the other mail and outbox tests (``from .test_mail_sink import SmtpSink``); its own tests
check the sink itself.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import smtplib
import socket
import threading
import weakref
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    content: bytes

    @property
    def message_id(self) -> str:
        msg = email.message_from_bytes(self.content, policy=email.policy.default)
        return str(msg["Message-ID"])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self._sink = sink

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        answer = self._sink.rcpt_answers.get(address.lower())
        if answer:
            return answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if server.transport is None or server.transport.is_closing():
            # Dropped (stop() plays a crash) after the end of data had reached aiosmtpd's buffer but
            # before it was handled: a crashed server takes nothing more, and no 250 could reach the
            # client anyway. (A server that stores a message and dies before its 250 leaves the
            # client no way to know: RFC 5321 section 6.1 accepts the duplicate. No test plays that.)
            return "421 Service not available, closing transmission channel"
        content = envelope.original_content or b""
        with self._sink.lock:
            self._sink.received.append(Received(str(envelope.mail_from), tuple(envelope.rcpt_tos), content))
        return "250 Message accepted for delivery"


class _Controller(Controller):
    """aiosmtpd's controller, keeping its connections so ``drop_connections`` can close them."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.connections: weakref.WeakSet[SMTP] = weakref.WeakSet()

    def factory(self) -> SMTP:
        server = super().factory()
        self.connections.add(server)
        return server

    async def drop_connections(self) -> None:
        if self.server is not None:
            self.server.close()  # first: a client reconnecting now would get a connection nobody closes
        for _ in range(3):  # a connection accepted just before gets its transport a callback later
            for server in list(self.connections):
                if server.transport is not None and not server.transport.is_closing():
                    server.transport.abort()
            await asyncio.sleep(0)  # the transports close their sockets in callbacks of the next iteration
            await asyncio.sleep(0)


class SmtpSink:
    """``start()`` / ``stop()`` may be called repeatedly; the port stays the same."""

    def __init__(self) -> None:
        self.host = "127.0.0.1"
        self.port = free_port()
        self.received: list[Received] = []
        self.rcpt_answers: dict[str, str] = {}  # address → SMTP answer to RCPT TO (e.g. "550 …")
        self.lock = threading.Lock()
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = _Controller(_Handler(self), hostname=self.host, port=self.port, server_hostname="sink")
        self._controller.start()

    def stop(self) -> None:
        """Go away like a crashed server: open connections are dropped first (aiosmtpd's own stop
        leaves a connection that is in the middle of DATA unclosed), then the listener stops."""
        controller, self._controller = self._controller, None
        if controller is not None:
            asyncio.run_coroutine_threadsafe(controller.drop_connections(), controller.loop).result(10)
            controller.stop()

    @property
    def running(self) -> bool:
        return self._controller is not None

    def message_ids(self) -> Counter[str]:
        with self.lock:
            return Counter(r.message_id for r in self.received)

    def count(self) -> int:
        with self.lock:
            return len(self.received)

    async def wait_for(self, count: int, timeout: float = 20.0) -> None:
        """Wait until at least ``count`` messages arrived (fails the test after ``timeout``)."""
        await until(lambda: self.count() >= count, timeout)


async def until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    """Poll ``condition`` until it holds; a ``TimeoutError`` fails the test after ``timeout``."""
    async with asyncio.timeout(timeout):
        while True:
            if condition():
                return
            await asyncio.sleep(0.005)


@contextmanager
def running_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    sink.start()
    try:
        yield sink
    finally:
        sink.stop()


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    with running_sink() as sink:
        yield sink


def test_the_sink_records_what_smtplib_sends(smtp_sink: SmtpSink) -> None:
    with smtplib.SMTP(smtp_sink.host, smtp_sink.port) as client:
        client.sendmail("a@example.org", ["b@example.org"], b"Message-ID: <1@example.org>\r\n\r\nhello\r\n")
    assert smtp_sink.received[0].rcpt_tos == ("b@example.org",)
    assert smtp_sink.message_ids() == Counter({"<1@example.org>": 1})


def test_the_sink_can_refuse_a_recipient_and_come_back_on_the_same_port(smtp_sink: SmtpSink) -> None:
    smtp_sink.rcpt_answers["gone@example.org"] = "550 5.1.1 No such user"
    with smtplib.SMTP(smtp_sink.host, smtp_sink.port) as client, pytest.raises(smtplib.SMTPRecipientsRefused):
        client.sendmail("a@example.org", ["gone@example.org"], b"\r\nhello\r\n")
    smtp_sink.stop()
    with pytest.raises(OSError):
        smtplib.SMTP(smtp_sink.host, smtp_sink.port, timeout=2).close()
    smtp_sink.start()
    with smtplib.SMTP(smtp_sink.host, smtp_sink.port) as client:
        client.sendmail("a@example.org", ["b@example.org"], b"\r\nhello\r\n")
    assert smtp_sink.count() == 1
