"""The iMIP messages (RFC 6047) we send: one RFC 5322 message per recipient.

Layout (what Google Calendar emits and Gmail, Outlook and Apple Mail recognise)::

    multipart/mixed
      multipart/alternative
        text/plain; charset="UTF-8"                       quoted-printable
        text/html; charset="UTF-8"                        quoted-printable
        text/calendar; method=REQUEST; charset="UTF-8"    base64   (METHOD inside = method=)
      application/ics; name="invite.ics"                  base64, attachment; filename="invite.ics"

Headers: From, Sender and Reply-To are all the unit's invite mailbox (= ORGANIZER) with the display
name "<Organizer> (via <unit>)", identical for the REQUEST, every update and the CANCEL; To is the one
recipient; Message-ID ``<id@mailbox-domain>`` (also the outbox key); Subject "Invitation: …",
"Updated invitation: …", "<Status>: … (<who>)" for a response report, or "Canceled: …".
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import html
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from email.charset import BASE64, Charset
from email.header import Header
from email.utils import format_datetime, formataddr
from zoneinfo import ZoneInfo

from kit.clock import IdGenerator
from services.booking.invites.ics import cancel_ics, check_event, request_ics
from services.booking.invites.model import (
    InviteEvent,
    InviteKind,
    InviteMethod,
    InviteParty,
    OutgoingMessage,
    PartStat,
)

# Base64 encoded-words: the stdlib's default for UTF-8 computes Q and B and keeps the shorter (slow).
_UTF8_B = Charset("utf-8")
_UTF8_B.header_encoding = BASE64
_STATUS_WORDS = {
    PartStat.ACCEPTED: "Accepted",
    PartStat.TENTATIVE: "Tentatively accepted",
    PartStat.DECLINED: "Declined",
    PartStat.DELEGATED: "Delegated",
    PartStat.NEEDS_ACTION: "Response updated",
}


def invite_messages(
    event: InviteEvent,
    *,
    kind: InviteKind,
    stamp: datetime,
    unit_name: str,
    booking_id: str,
    ids: IdGenerator,
    removed: Sequence[InviteParty] = (),
    only_to: Sequence[str] | None = None,
    responder_email: str = "",
    note: str = "",
) -> list[OutgoingMessage]:
    """The messages to queue for one change of a booking, one per recipient.

    * NEW / UPDATE: REQUEST to the human organizer and every attendee.
    * RESPONSE: REQUEST (attendee PARTSTATs as they now stand) to the human organizer only;
      ``responder_email`` names who answered (Subject "Accepted: … (Bob)"), ``note`` adds a line to
      the text (e.g. a proposed new time).
    * CANCEL: whole-event CANCEL to the human organizer and every attendee.
    * UNINVITE: CANCEL listing only ``removed`` (people no longer in ``event.attendees``), to them.

    ``only_to`` keeps only those recipients (e.g. re-sending the latest REQUEST to one attendee after
    a REFRESH). ``ids`` makes the Message-ID local parts. Raises ``ValueError`` for an invalid event.
    """
    check_event(event)
    method = InviteMethod.CANCEL if kind in (InviteKind.CANCEL, InviteKind.UNINVITE) else InviteMethod.REQUEST
    if kind is InviteKind.UNINVITE:
        ics = cancel_ics(event, stamp=stamp, removed=removed)
        recipients = [(p.email, p.name) for p in removed]
    else:
        ics = cancel_ics(event, stamp=stamp) if kind is InviteKind.CANCEL else request_ics(event, stamp=stamp)
        recipients = [(event.organizer_email, event.organizer_name)]
        if kind is not InviteKind.RESPONSE:
            recipients += [(p.email, p.name) for p in event.attendees]
    if only_to is not None:
        wanted = {e.lower() for e in only_to}
        recipients = [r for r in recipients if r[0].lower() in wanted]
    subject = _subject(event, kind, responder_email)
    text, page = _bodies(event, kind, note)
    domain = event.organizer_mailbox.rsplit("@", 1)[1].lower()
    boundary, body = _body(method, ics, text, page)
    headers = _headers(event, subject, stamp, unit_name, boundary)
    out = []
    for email, name in recipients:
        message_id = f"<{ids.new_id()}@{domain}>"
        raw = headers(message_id, email, name) + body
        out.append(
            OutgoingMessage(
                message_id=message_id,
                booking_id=booking_id,
                recipient=email,
                sender=event.organizer_mailbox,
                method=method,
                sequence=event.sequence,
                raw=raw,
            )
        )
    return out


def sender_display_name(organizer_name: str, unit_name: str) -> str:
    """"Alice Adams (via Northwind)": the human's name, the unit's mailbox."""
    who = organizer_name.strip() or "Organizer"
    return f"{who} (via {unit_name.strip()})" if unit_name.strip() else who


def _body(method: InviteMethod, ics: bytes, text: str, page: str) -> tuple[str, bytes]:
    """The multipart/mixed body shared by every recipient: (boundary, bytes after the headers).

    Written by hand rather than with ``EmailMessage``: the stdlib's header machinery costs ~4 ms per
    message, which matters when a booking sends five of them inside its request. Boundaries contain
    "=_", which can occur in neither base64 nor quoted-printable text, so they never collide."""
    tag = hashlib.sha256(ics + text.encode() + page.encode()).hexdigest()[:20]
    mixed, alternative = f"=_rdv_m_{tag}", f"=_rdv_a_{tag}"
    calendar = _base64(ics)
    parts = [
        f'--{mixed}\r\nContent-Type: multipart/alternative; boundary="{alternative}"\r\n\r\n'.encode(),
        f"--{alternative}\r\n".encode(),
        b'Content-Type: text/plain; charset="UTF-8"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n',
        _quoted_printable(text),
        f"\r\n--{alternative}\r\n".encode(),
        b'Content-Type: text/html; charset="UTF-8"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n',
        _quoted_printable(page),
        f"\r\n--{alternative}\r\n".encode(),
        f'Content-Type: text/calendar; method={method.value}; charset="UTF-8"\r\n'.encode(),
        b"Content-Transfer-Encoding: base64\r\n\r\n",
        calendar,
        f"\r\n--{alternative}--\r\n\r\n--{mixed}\r\n".encode(),
        b'Content-Type: application/ics; name="invite.ics"\r\n',
        b'Content-Disposition: attachment; filename="invite.ics"\r\n',
        b"Content-Transfer-Encoding: base64\r\n\r\n",
        calendar,
        f"\r\n--{mixed}--\r\n".encode(),
    ]
    return mixed, b"".join(parts)


def _headers(event: InviteEvent, subject: str, stamp: datetime, unit_name: str,
             boundary: str) -> Callable[[str, str, str], bytes]:  # fmt: skip
    """The header block of each recipient's copy, ``(message_id, to_email, to_name) → bytes``: what
    every copy shares (From, Sender, Reply-To, the encoded Subject, Date, Content-Type) is made once."""
    sender = _address(sender_display_name(event.organizer_name, unit_name), event.organizer_mailbox)
    encoded_subject = Header(_one_line(subject), "us-ascii" if subject.isascii() else _UTF8_B,
                             header_name="Subject").encode(linesep="\r\n")  # fmt: skip
    before = f"From: {sender}\r\nSender: {sender}\r\nReply-To: {sender}\r\nTo: "
    middle = f"\r\nSubject: {encoded_subject}\r\nDate: {format_datetime(stamp.astimezone(UTC))}\r\nMessage-ID: "
    after = f'\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n'

    def block(message_id: str, to_email: str, to_name: str) -> bytes:
        return f"{before}{_address(to_name, to_email)}{middle}{message_id}{after}".encode("ascii")

    return block


def _address(name: str, email: str) -> str:
    name = _one_line(name)
    return formataddr((name, email), charset=_UTF8_B) if name else email


def _one_line(value: str) -> str:
    """No CR/LF may reach a header (header injection); runs of whitespace become one space."""
    return " ".join(value.split())


def _quoted_printable(text: str) -> bytes:
    data = text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    encoded = binascii.b2a_qp(data, istext=True)
    return encoded.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def _base64(data: bytes) -> bytes:
    return base64.encodebytes(data).replace(b"\n", b"\r\n")


def _subject(event: InviteEvent, kind: InviteKind, responder_email: str) -> str:
    title = event.summary.strip() or "(no title)"
    if kind is InviteKind.NEW:
        return f"Invitation: {title} @ {_when(event)}"
    if kind is InviteKind.UPDATE:
        return f"Updated invitation: {title} @ {_when(event)}"
    if kind is InviteKind.RESPONSE:
        party = next((p for p in event.attendees if p.email.lower() == responder_email.lower()), None)
        if party is None:
            return f"Updated invitation: {title} @ {_when(event)}"
        return f"{_STATUS_WORDS[party.partstat]}: {title} ({party.name or party.email})"
    return f"Canceled: {title} @ {_when(event)}"


def _zone(event: InviteEvent) -> ZoneInfo:
    return ZoneInfo(event.time_zone or "UTC")


def _when(event: InviteEvent) -> str:
    """"Fri 1 May 2026 11:00 – 12:00 (Europe/Berlin)" in the booking's zone (UTC without one)."""
    zone = _zone(event)
    start, end = event.start.astimezone(zone), event.end.astimezone(zone)
    first = f"{start:%a} {start.day} {start:%b %Y %H:%M}"
    last = f"{end:%H:%M}" if end.date() == start.date() else f"{end:%a} {end.day} {end:%b %Y %H:%M}"
    return f"{first} – {last} ({event.time_zone or 'UTC'})"


def _bodies(event: InviteEvent, kind: InviteKind, note: str) -> tuple[str, str]:
    rows: list[tuple[str, str]] = []
    if kind in (InviteKind.CANCEL, InviteKind.UNINVITE):
        rows.append(("", "This event has been canceled."))
    if note:
        rows.append(("", note))
    rows.append(("Title", event.summary or "(no title)"))
    rows.append(("When", _when(event)))
    if event.location:
        rows.append(("Where", event.location))
    if event.conference_url:
        rows.append(("Join", event.conference_url))
        if event.conference_details:
            rows.append(("", event.conference_details))
    rows.append(("Organizer", _person(event.organizer_name, event.organizer_email)))
    guests = [_person(p.name, p.email) for p in event.attendees]
    if guests:
        rows.append(("Guests", ", ".join(guests)))
    if event.description.strip():
        rows.append(("", event.description.strip()))
    text = "\n".join(f"{k}: {v}" if k else v for k, v in rows) + "\n"
    cells = "".join(
        f"<p><b>{html.escape(k)}</b>: {_link(v) if k == 'Join' else _escape(v)}</p>" if k else f"<p>{_escape(v)}</p>"
        for k, v in rows
    )
    page = f'<!doctype html><html><body><div style="font-family:sans-serif">{cells}</div></body></html>\n'
    return text, page


def _escape(text: str) -> str:
    return html.escape(text).replace("\n", "<br>\n")


def _link(url: str) -> str:
    safe = html.escape(url, quote=True)
    return f'<a href="{safe}">{safe}</a>'


def _person(name: str, email: str) -> str:
    return f"{name} <{email}>" if name else email
