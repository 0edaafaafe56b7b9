"""Reading the mail a running stack sent, wherever it was caught.

* :class:`EmlDirectory` — the local mail sink (``scripts.mailsink``, ``make run`` and the e2e tests
  on processes): one ``.eml`` file per message, headed by ``X-Envelope-From``/``X-Envelope-To``.
* :class:`MailpitApi` — Mailpit, the mail catcher of ``docker compose`` (``http://127.0.0.1:8025``):
  ``GET /api/v1/messages`` (summaries, newest first, paged by ``start``/``limit``) and
  ``GET /api/v1/message/{ID}/raw`` (the message source).

Both answer :class:`Mail` values, oldest first::

    reader = stack.mail()                                   # scripts.devstack.Stack
    (invite,) = await wait_for_mail(reader, lambda m: "bob@example.org" in m.recipients)
    invite.message["Subject"], invite.message.get_body(("plain",))

``recipients`` are the SMTP envelope recipients. The sink records them as written; Mailpit keeps the
To/Cc/Bcc addresses of the message and adds envelope recipients missing from them as Bcc, so the union
of the three is the envelope for every message Rendezvous sends. Mailpit also stamps ``Return-Path``
(and a ``Bcc`` header for such recipients) on the source it serves, so compare bodies and the headers
Rendezvous wrote rather than raw bytes.
"""

from __future__ import annotations

import asyncio
import email.policy
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any, Protocol

import httpx

_ENVELOPE_HEADERS = (b"x-envelope-from:", b"x-envelope-to:")


@dataclass(frozen=True)
class Mail:
    """One caught message: an id in its store, the envelope recipients (lower case) and the source."""

    id: str
    recipients: tuple[str, ...]
    raw: bytes = field(repr=False)

    @property
    def message(self) -> EmailMessage:
        parsed = BytesParser(policy=email.policy.default).parsebytes(self.raw)
        assert isinstance(parsed, EmailMessage)
        return parsed

    @property
    def subject(self) -> str:
        return str(self.message["Subject"] or "")


class MailReader(Protocol):
    async def messages(self) -> list[Mail]:
        """Every message caught so far, oldest first."""
        ...


async def wait_for_mail(
    reader: MailReader, match: Callable[[Mail], bool] = lambda m: True, *, count: int = 1, timeout: float = 20.0
) -> list[Mail]:
    """The first ``count`` messages ``match`` accepts, once that many have arrived (else TimeoutError)."""
    deadline = time.monotonic() + timeout
    while True:
        found = [m for m in await reader.messages() if match(m)]
        if len(found) >= count:
            return found[:count]
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(found)} of {count} expected messages arrived within {timeout}s")
        await asyncio.sleep(0.1)


def _addresses(value: str) -> tuple[str, ...]:
    return tuple(a.strip().lower() for a in value.split(",") if a.strip())


class EmlDirectory:
    """The ``.eml`` files of ``scripts.mailsink`` in ``directory`` (absent = no mail yet)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def messages(self) -> list[Mail]:
        if not self.directory.is_dir():
            return []
        files = sorted(self.directory.glob("*.eml"), key=lambda p: (p.stat().st_mtime_ns, p.name))
        return [self._read(path) for path in files]

    @staticmethod
    def _read(path: Path) -> Mail:
        data = path.read_bytes()
        recipients: tuple[str, ...] = ()
        while data[:16].lower().startswith(_ENVELOPE_HEADERS):  # the sink's two lines, then the message
            line, _, data = data.partition(b"\r\n")
            name, _, value = line.decode().partition(":")
            if name.lower() == "x-envelope-to":
                recipients = _addresses(value)
        return Mail(id=path.stem, recipients=recipients, raw=data)


class MailpitApi:
    """Mailpit's HTTP API at ``base_url`` (e.g. ``http://127.0.0.1:8025``)."""

    PAGE = 250

    def __init__(self, base_url: str, *, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._raw: dict[str, bytes] = {}  # a message's source never changes: fetched once

    async def messages(self) -> list[Mail]:
        async with httpx.AsyncClient(base_url=self.base_url, timeout=self.timeout) as http:
            summaries = await self._summaries(http)
            found = []
            for summary in reversed(summaries):  # Mailpit lists newest first
                ident = str(summary["ID"])
                if ident not in self._raw:
                    response = await http.get(f"/api/v1/message/{ident}/raw")
                    response.raise_for_status()
                    self._raw[ident] = response.content
                found.append(Mail(id=ident, recipients=self._recipients(summary), raw=self._raw[ident]))
        return found

    async def _summaries(self, http: httpx.AsyncClient) -> list[dict[str, Any]]:
        summaries: list[dict[str, Any]] = []
        while True:
            response = await http.get("/api/v1/messages", params={"start": len(summaries), "limit": self.PAGE})
            response.raise_for_status()
            page = response.json()
            batch = page.get("messages") or []
            summaries.extend(batch)
            if not batch or len(summaries) >= int(page.get("total", 0)):
                return summaries

    @staticmethod
    def _recipients(summary: dict[str, Any]) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for key in ("To", "Cc", "Bcc"):
            for address in summary.get(key) or ():
                seen.setdefault(str(address.get("Address", "")).lower(), None)
        return tuple(a for a in seen if a)
