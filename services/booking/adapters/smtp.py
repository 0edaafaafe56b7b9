"""Sending mail over SMTP (the ``MailTransport`` port), with typed errors.

aiosmtplib is not a dependency, so the blocking ``smtplib`` client runs in a worker thread
(``asyncio.to_thread``); one ``SmtpSession`` keeps one connection for a whole batch and reconnects
by itself after the server dropped it. Errors map to the port's two kinds:

* ``TransientDeliveryError``: cannot connect, connection lost, timeout, any 4xx reply (incl. 421).
  ``code`` is 0 when no SMTP reply was received (the server is down or unreachable).
* ``PermanentDeliveryError``: a 5xx reply to MAIL FROM, RCPT TO or DATA (recipient or message refused).
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from collections.abc import AsyncIterator
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

    async def send(self, sender: str, recipient: str, raw: bytes) -> None:
        await self.connect()
        client = self._client
        assert client is not None
        try:
            await asyncio.to_thread(_send_blocking, client, sender, recipient, raw)
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

    def _connect_blocking(self) -> smtplib.SMTP:
        t = self._transport
        try:
            client = smtplib.SMTP(t.host, t.port, local_hostname=t.local_hostname, timeout=t.timeout_seconds)
        except smtplib.SMTPConnectError as exc:  # the greeting was not 220
            raise _from_code(exc.smtp_code, f"SMTP {t.host}:{t.port} refused the session: {_text(exc.smtp_error)}") from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise TransientDeliveryError(f"cannot connect to SMTP {t.host}:{t.port}: {exc}") from exc
        try:
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


def _send_blocking(client: smtplib.SMTP, sender: str, recipient: str, raw: bytes) -> None:
    try:
        refused = client.sendmail(sender, [recipient], raw)
    except smtplib.SMTPRecipientsRefused as exc:
        code, text = next(iter(exc.recipients.values()), (0, b""))
        raise _from_code(code, f"recipient {recipient} refused: {code} {_text(text)}") from exc
    except smtplib.SMTPResponseException as exc:  # SenderRefused, DataError, … (smtplib sent RSET)
        raise _from_code(exc.smtp_code, f"message to {recipient} refused: {exc.smtp_code} {_text(exc.smtp_error)}") from exc
    except (OSError, smtplib.SMTPException) as exc:  # disconnected, timeout, reset
        raise TransientDeliveryError(f"connection lost while sending to {recipient}: {exc}") from exc
    if refused:  # cannot happen with one recipient, but never claim success for a refused one
        code, text = refused.get(recipient, (0, b""))
        raise _from_code(code, f"recipient {recipient} refused: {code} {_text(text)}")


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
