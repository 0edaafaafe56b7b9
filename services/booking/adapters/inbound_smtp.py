"""The inbound SMTP listener: attendees' calendar replies arrive here (port 2525 by default).

An aiosmtpd server on the service's own event loop (so the callback can use the service's database
engine) hands each message's raw RFC 5322 bytes to ``on_message`` — the booking core's ingest use
case — and answers:

* 250 after the callback returned, whatever it decided (a rejected or stale reply is logged by the
  use case; bouncing it would only send noise back to the attendee);
* 451 when the callback raised or took longer than ``callback_timeout_seconds`` (a database
  outage, a bug): the sending MTA keeps the message and retries later, so nothing is lost;
* 552 for a message over ``max_message_bytes`` (3 MiB, as IngestEmail), announced in EHLO SIZE;
* 550 for a recipient outside ``accepted_domains`` when that set is given (we are not a relay).

The listener never crashes on bad input: aiosmtpd answers protocol errors itself and every handler
path is guarded.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable, Collection
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

log = logging.getLogger("rendezvous.booking.inbound_smtp")

MAX_MESSAGE_BYTES = 3 * 1024 * 1024
MessageCallback = Callable[[bytes], Awaitable[object]]


class _Handler:
    def __init__(
        self, on_message: MessageCallback, accepted_domains: Collection[str] | None, callback_timeout: float
    ) -> None:
        self._on_message = on_message
        self._callback_timeout = callback_timeout
        self._domains = {d.lower().rstrip(".") for d in accepted_domains} if accepted_domains else None

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        domain = address.rpartition("@")[2].lower().rstrip(".")
        if self._domains is not None and domain not in self._domains:
            return "550 5.7.1 Relaying denied: not a mailbox of this service"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):  # only with decode_data=True, which we never set
            raw = raw.encode("utf-8", "surrogateescape")
        try:
            async with asyncio.timeout(self._callback_timeout):
                outcome = await self._on_message(bytes(raw))
        except Exception:  # including TimeoutError: a stuck database must not hold the sender forever
            log.exception(
                "inbound message could not be processed; asked the sender to retry",
                extra={"peer": str(session.peer), "mail_from": envelope.mail_from, "size": len(raw)},
            )
            return "451 4.3.0 Temporary failure processing the message, try again later"
        log.info(
            "inbound message processed",
            extra={"peer": str(session.peer), "mail_from": envelope.mail_from, "outcome": _describe(outcome)},
        )
        return "250 2.0.0 OK"


def _describe(outcome: object) -> Any:
    for name in ("outcome", "result"):
        value = getattr(outcome, name, None)
        if value is not None:
            reason = getattr(outcome, "reason", "")
            return f"{getattr(value, 'value', value)} {getattr(reason, 'value', reason)}".strip()
    return None if outcome is None else type(outcome).__name__


class InboundSmtpServer:
    """``await server.start()`` … ``await server.stop()``; ``port`` is the bound port (useful with 0)."""

    def __init__(
        self,
        on_message: MessageCallback,
        *,
        host: str = "0.0.0.0",
        port: int = 2525,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
        accepted_domains: Collection[str] | None = None,
        hostname: str = "rendezvous-booking",
        timeout_seconds: float = 300.0,
        callback_timeout_seconds: float = 60.0,
    ) -> None:
        self._handler = _Handler(on_message, accepted_domains, callback_timeout_seconds)
        self._host, self._port = host, port
        self._max = max_message_bytes
        self._hostname = hostname
        self._timeout = timeout_seconds
        self._server: asyncio.Server | None = None
        self._sessions: weakref.WeakSet[SMTP] = weakref.WeakSet()

    @property
    def port(self) -> int:
        if self._server is None or not self._server.sockets:
            return self._port
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._protocol, host=self._host, port=self._port)
        log.info("inbound SMTP listening", extra={"host": self._host, "port": self.port})

    def _protocol(self) -> SMTP:
        session = SMTP(
            self._handler,
            data_size_limit=self._max,
            enable_SMTPUTF8=True,
            hostname=self._hostname,
            timeout=self._timeout,
            loop=asyncio.get_running_loop(),
        )
        self._sessions.add(session)
        return session

    async def stop(self) -> None:
        """Stop listening and close open sessions (a sender mid-DATA retries later: nothing was 250'd)."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for session in list(self._sessions):
            transport = getattr(session, "transport", None)
            if transport is not None and not transport.is_closing():
                transport.close()
        await server.wait_closed()
