"""Helpers of the end-to-end story: what the inboxes and the provider sandbox actually received, and
an attendee's calendar answering an invite."""

from __future__ import annotations

import asyncio
import email.policy
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp
from icalendar import Calendar, Event, vCalAddress

from scripts.invites import Invite
from scripts.mail_reader import MailReader


def ts(text: str) -> Timestamp:
    """A Timestamp from an ISO 8601 instant (``2027-03-03T10:00:00Z``)."""
    stamp = Timestamp()
    stamp.FromDatetime(utc(text))
    return stamp


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def periods(answer: Any) -> list[tuple[str, str]]:
    """A QueryAvailability answer's periods as ``(HH:MM, HH:MM)`` UTC pairs."""
    return [(p.start_time.ToDatetime().strftime("%H:%M"), p.end_time.ToDatetime().strftime("%H:%M"))
            for p in answer.available_periods]  # fmt: skip


class Inbox:
    """Every message the stack sent (the mail sink, or Mailpit under compose), read as invites."""

    def __init__(self, reader: MailReader) -> None:
        self.reader = reader

    async def all(self) -> list[Invite]:
        return [Invite(m) for m in await self.reader.messages()]

    async def wait(self, match: Callable[[Invite], bool], count: int, what: str, timeout: float = 20.0,
                   settle: float = 0.0) -> list[Invite]:  # fmt: skip
        """The matching messages once at least ``count`` have arrived (delivery is asynchronous).
        With ``settle``, waits that much longer and checks no more arrived (nothing sent twice)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            found = [m for m in await self.all() if match(m)]
            if len(found) >= count:
                break
            if loop.time() > deadline:
                raise AssertionError(f"expected {count} message(s) {what}; {len(found)} arrived")
            await asyncio.sleep(0.1)
        if settle:
            await asyncio.sleep(settle)
            found = [m for m in await self.all() if match(m)]
        assert len(found) == count, f"expected exactly {count} message(s) {what}; {len(found)} arrived"
        return found

    async def invites(self, uid: str, method: str, count: int, *, sequence: int | None = None,
                      settle: float = 0.0) -> dict[str, Invite]:  # fmt: skip
        """The ``count`` iMIP messages of event ``uid`` with ``method`` (and ``sequence``), by recipient."""
        found = await self.wait(
            lambda m: m.uid == uid and m.method == method and (sequence is None or m.sequence == sequence),
            count, f"{method} of {uid}" + (f" SEQUENCE {sequence}" if sequence is not None else ""), settle=settle)
        return by_recipient(found)


def by_recipient(mails: Iterable[Invite]) -> dict[str, Invite]:
    """Each envelope recipient's message (Rendezvous sends every invite to one recipient)."""
    out: dict[str, Invite] = {}
    for mail in mails:
        for rcpt in mail.recipients:
            assert rcpt not in out, f"{rcpt} got two of these messages"
            out[rcpt] = mail
    return out


def itip_reply(invite: Invite, attendee: str, partstat: str, *, comment: str = "") -> bytes:
    """What the attendee's calendar sends back: an iTIP REPLY (RFC 5546) by iMIP (RFC 6047) to the
    invite's ORGANIZER, naming only the answering attendee; CRLF line ends, as on the wire."""
    request = invite.event
    cal = Calendar()
    cal.add("PRODID", "-//Rendezvous e2e//attendee calendar//EN")
    cal.add("VERSION", "2.0")
    cal.add("METHOD", "REPLY")
    event = Event()
    event.add("UID", request.get("UID"))
    event.add("SEQUENCE", int(request.get("SEQUENCE", 0)))
    event.add("DTSTAMP", datetime.now(UTC))
    event.add("DTSTART", request.decoded("DTSTART"))
    event.add("DTEND", request.decoded("DTEND"))
    event["ORGANIZER"] = request.get("ORGANIZER")
    who = vCalAddress(f"mailto:{attendee}")
    who.params["PARTSTAT"] = partstat
    event.add("ATTENDEE", who)
    if comment:
        event.add("COMMENT", comment)
    cal.add_component(event)
    message = EmailMessage()
    message["From"] = attendee
    message["To"] = reply_address(invite)
    message["Subject"] = f"{partstat.title()}: {request.get('SUMMARY')}"
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=attendee.rpartition("@")[2])
    message.set_content(f"{attendee} has answered {partstat.lower()}.")
    message.add_alternative(cal.to_ical().decode(), subtype="calendar", params={"method": "REPLY"})
    return message.as_bytes(policy=email.policy.SMTP)


def reply_address(invite: Invite) -> str:
    """Where calendars send replies: the invite's ORGANIZER mailbox."""
    return str(invite.organizer).lower().removeprefix("mailto:")


class Sandbox:
    """What the provider sandbox recorded, through its admin API (``SandboxAdmin``); requests are
    those after ``since`` (a sequence number of the request log), so a shared sandbox works too."""

    def __init__(self, admin: Any, since: int = 0) -> None:
        self.admin = admin
        self.since = since

    @classmethod
    async def from_now(cls, admin: Any) -> Sandbox:
        """Requests logged from now on."""
        return cls(admin, max((r["seq"] for r in await admin.requests()), default=0))

    async def requests(self, route: str) -> list[dict[str, Any]]:
        """Logged provider requests of a route (exact or glob), oldest first."""
        return list(await self.admin.requests(route=route, since=self.since))

    async def google_events(self) -> dict[str, dict[str, Any]]:
        """Events clients created at Google (with their history), by event id."""
        return {e["eventId"]: e for e in (await self.admin.created("google"))["events"]}

    async def zoom_meetings(self) -> dict[str, dict[str, Any]]:
        """Zoom meetings clients created, by meeting id."""
        return {str(m["meeting"]["id"]): m for m in (await self.admin.created("zoom"))["meetings"]}

    async def acting_as(self, request: dict[str, Any]) -> str | None:
        """The user whose token a logged request carried (Google: the delegation subject)."""
        token = str(request["headers"].get("authorization", "")).removeprefix("Bearer ")
        grants = await self.admin.tokens()
        return next((g.get("email") or g.get("subject") for g in grants if g.get("token") == token), None)
