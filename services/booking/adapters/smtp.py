"""Sending mail over SMTP (the ``MailTransport`` port), with typed errors.

aiosmtplib is not a dependency, so the blocking ``smtplib`` client runs in a worker thread
(``asyncio.to_thread``); one ``SmtpSession`` keeps one connection for a whole batch and reconnects
by itself after the server dropped it. A send given a ``ready`` gate is done in two steps: MAIL, RCPT,
DATA and the content first, then — once ``ready`` returned — the end of the data, the one line
after which the server holds the message. Abandoning in between (``ready`` raised) closes the
connection, which makes the server discard the unfinished transaction. Errors map to the port's two
kinds:

* ``TransientDeliveryError``: cannot connect, connection lost, timeout, any 4xx reply (incl. 421).
  ``code`` is 0 when no SMTP reply was received (the server is down or unreachable).
* ``PermanentDeliveryError``: a 5xx reply to MAIL FROM, RCPT TO or DATA (recipient or message refused).
"""

from __future__ import annotations

import asyncio
import re
import smtplib
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from services.booking.invites.ports import (
    MailDeliveryError,
    PermanentDeliveryError,
    TransientDeliveryError,
)


@dataclass(frozen=True)
class SmtpTransport:
    """Connects to ``host:port``; optional STARTTLS and AUTH LOGIN/PLAIN (``username``/``password``)."""

    host: str
    port: int
    timeout_seconds: float = 10.0
    local_hostname: str = "rendezvous.booking"
    starttls: bool = False
    username: str = ""
    password: str = ""

    @asynccontextmanager
    async def session(self) -> AsyncIterator[SmtpSession]:
        session = SmtpSession(self)
        try:
            await session.connect()
            yield session
        finally:
            await session.close()


class SmtpSession:
    """One SMTP connection; ``send`` is called by one task at a time."""

    def __init__(self, transport: SmtpTransport) -> None:
        self._transport = transport
        self._client: smtplib.SMTP | None = None

    async def connect(self) -> None:
        if self._client is None:
            self._client = await asyncio.to_thread(self._connect_blocking)

    async def send(
        self, sender: str, recipient: str, raw: bytes, *, ready: Callable[[], Awaitable[None]] | None = None
    ) -> None:
        await self.connect()
        client = self._client
        assert client is not None
        try:
            if ready is None:
                await asyncio.to_thread(_send_blocking, client, sender, recipient, raw)
                return
            await asyncio.to_thread(_begin_blocking, client, sender, recipient, raw)
            try:
                await ready()
            except BaseException:
                self._abandon()
                raise
            await asyncio.to_thread(_end_blocking, client, recipient)
        except TransientDeliveryError as exc:
            if exc.code in (0, 421):
                await self._drop()  # connection lost or closing; the next send reconnects
            raise

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await asyncio.to_thread(_quit_blocking, client)

    async def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await asyncio.to_thread(_close_blocking, client)

    def _abandon(self) -> None:
        """Close the connection in the middle of DATA: the server discards the transaction. (Closing
        a socket does not block, and no worker thread uses the client between the two steps.)"""
        client, self._client = self._client, None
        if client is not None:
            _close_blocking(client)

    def _connect_blocking(self) -> smtplib.SMTP:
        t = self._transport
        try:
            client = smtplib.SMTP(t.host, t.port, local_hostname=t.local_hostname, timeout=t.timeout_seconds)
        except smtplib.SMTPConnectError as exc:  # the greeting was not 220
            raise _from_code(exc.smtp_code, f"SMTP {t.host}:{t.port} refused the session: {_text(exc.smtp_error)}") from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise TransientDeliveryError(f"cannot connect to SMTP {t.host}:{t.port}: {exc}") from exc
        try:
            # Commands and the end of the data are small writes that wait for an answer: without
            # TCP_NODELAY, Nagle holds one back until the server acknowledges the previous write,
            # which it delays (~40 ms on Linux) — the end of data right after the content is such a write.
            if client.sock is not None:
                client.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if t.starttls:
                client.starttls(context=ssl.create_default_context())
            if t.username:
                client.login(t.username, t.password)
        except smtplib.SMTPResponseException as exc:
            _close_blocking(client)
            raise _from_code(exc.smtp_code, f"SMTP session setup failed: {_text(exc.smtp_error)}") from exc
        except (OSError, smtplib.SMTPException) as exc:
            _close_blocking(client)
            raise TransientDeliveryError(f"SMTP session setup failed: {exc}") from exc
        return client


#: A line of the content starting with "." gets another one (RFC 5321 section 4.5.2).
_DOT_LINE = re.compile(rb"(?m)^\.")


def _send_blocking(client: smtplib.SMTP, sender: str, recipient: str, raw: bytes) -> None:
    _begin_blocking(client, sender, recipient, raw)
    _end_blocking(client, recipient)


def _begin_blocking(client: smtplib.SMTP, sender: str, recipient: str, raw: bytes) -> None:
    """MAIL, RCPT, DATA and the content: everything but the end of the data (what ``sendmail``
    does, split where the server takes responsibility for the message)."""
    try:
        client.ehlo_or_helo_if_needed()
        options = [f"size={len(raw)}"] if client.does_esmtp and client.has_extn("size") else []
        code, text = client.mail(sender, options)
        if code != 250:
            raise _refused(client, code, f"message to {recipient} refused: {code} {_text(text)}")
        code, text = client.rcpt(recipient)
        if code not in (250, 251):
            raise _refused(client, code, f"recipient {recipient} refused: {code} {_text(text)}")
        client.putcmd("data")
        code, text = client.getreply()
        if code != 354:
            raise _refused(client, code, f"message to {recipient} refused: {code} {_text(text)}")
        content = _DOT_LINE.sub(b"..", raw)
        client.send(content if content.endswith(b"\r\n") else content + b"\r\n")
    except (OSError, smtplib.SMTPException) as exc:  # disconnected, timeout, reset
        raise TransientDeliveryError(f"connection lost while sending to {recipient}: {exc}") from exc


def _end_blocking(client: smtplib.SMTP, recipient: str) -> None:
    """The end of the data; returns once the server accepted the message (250)."""
    try:
        client.send(b".\r\n")
        code, text = client.getreply()
    except (OSError, smtplib.SMTPException) as exc:
        raise TransientDeliveryError(f"connection lost while sending to {recipient}: {exc}") from exc
    if code != 250:
        raise _refused(client, code, f"message to {recipient} refused: {code} {_text(text)}")


def _refused(client: smtplib.SMTP, code: int, message: str) -> MailDeliveryError:
    """The error for a refusal; the transaction is reset (or, on 421, the connection is closing)."""
    if code == 421:
        _close_blocking(client)
    else:
        try:
            client.rset()
        except (OSError, smtplib.SMTPException):
            _close_blocking(client)
    return _from_code(code, message)


def _from_code(code: int, message: str) -> MailDeliveryError:
    if 500 <= code < 600:
        return PermanentDeliveryError(message, code=code)
    return TransientDeliveryError(message, code=code if 400 <= code < 500 else 0)


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _quit_blocking(client: smtplib.SMTP) -> None:
    try:
        client.quit()
    except (OSError, smtplib.SMTPException):
        _close_blocking(client)


def _close_blocking(client: smtplib.SMTP) -> None:
    try:
        client.close()
    except OSError:
        pass
