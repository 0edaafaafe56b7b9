"""A stand-in for Mailpit's HTTP API over the mail sink's ``.eml`` directory, so the compose target's
mail path (``scripts.mail_reader.MailpitApi``) runs without Docker.

Serves the two endpoints the reader uses, shaped like Mailpit v1.21:

* ``GET /api/v1/messages?start=&limit=`` — ``{"total", "unread", "count", "start", "tags",
  "messages": [summary…]}``, newest first; a summary has ``ID``, ``MessageID``, ``From``, ``To``,
  ``Cc``, ``Bcc`` (``{"Name", "Address"}`` objects), ``Subject``, ``Created``, ``Size``.
* ``GET /api/v1/message/{ID}/raw`` — the source as Mailpit stores it: with ``Return-Path`` set from
  the envelope sender and the envelope recipients missing from To/Cc added as a ``Bcc`` header.
"""

from __future__ import annotations

import email.policy
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from email.headerregistry import Address
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from aiohttp import web

_ENVELOPE = (b"x-envelope-from:", b"x-envelope-to:")


def _stored(path: Path) -> tuple[bytes, dict[str, Any]]:
    """The source Mailpit would keep for one sink file, and its summary."""
    data = path.read_bytes()
    envelope: dict[str, str] = {}
    while data[:16].lower().startswith(_ENVELOPE):
        line, _, data = data.partition(b"\r\n")
        name, _, value = line.decode().partition(":")
        envelope[name.strip().lower()] = value.strip()
    message = BytesParser(policy=email.policy.default).parsebytes(data)

    def addresses(header: str) -> list[dict[str, str]]:
        found = message.get(header)
        return [{"Name": a.display_name, "Address": a.addr_spec} for a in getattr(found, "addresses", ())]

    to, cc, bcc = addresses("To"), addresses("Cc"), addresses("Bcc")
    named = {a["Address"].lower() for a in (*to, *cc, *bcc)}
    missing = [r.strip() for r in envelope.get("x-envelope-to", "").split(",") if r.strip() and r.strip().lower() not in named]
    head = f"Return-Path: <{envelope.get('x-envelope-from', '')}>\r\n"
    if missing:
        head += f"Bcc: {', '.join(missing)}\r\n"
        bcc += [{"Name": "", "Address": a} for a in missing]
    raw = head.encode() + data
    sender: Any = message.get("From")
    first: Address | None = sender.addresses[0] if sender is not None and sender.addresses else None
    summary = {
        "ID": path.stem,
        "MessageID": str(message.get("Message-ID", "")).strip("<>"),
        "Read": False,
        "From": {"Name": first.display_name, "Address": first.addr_spec} if first else None,
        "To": to, "Cc": cc, "Bcc": bcc, "ReplyTo": addresses("Reply-To"),
        "Subject": str(message.get("Subject", "")),
        "Created": datetime.fromtimestamp(path.stat().st_mtime, UTC).isoformat(),
        "Tags": [], "Size": len(raw), "Attachments": 0, "Snippet": "",
    }  # fmt: skip
    return raw, summary


def create_app(directory: Path) -> web.Application:
    def files() -> list[Path]:
        found = directory.glob("*.eml") if directory.is_dir() else []
        return sorted(found, key=lambda p: (p.stat().st_mtime_ns, p.name), reverse=True)  # newest first

    async def messages(request: web.Request) -> web.Response:
        start = int(request.query.get("start", "0"))
        limit = int(request.query.get("limit", "50"))
        everything = files()
        page = [_stored(p)[1] for p in everything[start : start + limit]]
        return web.json_response({"total": len(everything), "unread": len(everything), "count": len(page),
                                  "messages_count": len(everything), "start": start, "tags": [], "messages": page})  # fmt: skip

    async def raw(request: web.Request) -> web.Response:
        path = directory / f"{request.match_info['id']}.eml"
        if not path.is_file():
            return web.Response(status=404, text="message not found")
        return web.Response(body=_stored(path)[0], content_type="text/plain")

    app = web.Application()
    app.router.add_get("/api/v1/messages", messages)
    app.router.add_get("/api/v1/message/{id}/raw", raw)
    return app


@asynccontextmanager
async def running_mailpit_standin(directory: Path) -> AsyncIterator[str]:
    """Serve the stand-in on a free port of 127.0.0.1 in this loop; yields its base URL."""
    runner = web.AppRunner(create_app(directory), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()
