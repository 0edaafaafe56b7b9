"""The iMIP invites a running stack mailed, read back: one line per message.

    .venv/bin/python -m scripts.invites var/mail                       # every invite so far
    .venv/bin/python -m scripts.invites var/mail --uid UID --count 3   # wait until 3 of that event arrived
    .venv/bin/python -m scripts.invites http://127.0.0.1:8025          # Mailpit's API (docker compose)

Each line is ``recipient  METHOD  SEQUENCE  start (UTC)  summary  attendee=PARTSTAT …``. With
``--count`` it waits (``--timeout`` seconds) until that many messages match and exits 1 if they do
not arrive; ``--method``, ``--sequence`` and ``--to`` narrow the match. The README walkthrough uses
it to show what each attendee's calendar received; :class:`Invite` is also what the e2e tests read
the mail with.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from functools import cached_property
from pathlib import Path
from typing import Any

from icalendar import Calendar

from scripts.mail_reader import EmlDirectory, Mail, MailpitApi, MailReader


class Invite:
    """One caught message read as an iMIP invite (its text/calendar part)."""

    def __init__(self, mail: Mail) -> None:
        self.mail = mail
        self.recipients = mail.recipients

    @cached_property
    def message(self) -> EmailMessage:
        return self.mail.message

    @cached_property
    def calendar(self) -> Any:
        for part in self.message.walk():
            payload = part.get_payload(decode=True)
            if part.get_content_type() == "text/calendar" and isinstance(payload, bytes):
                return Calendar.from_ical(payload)
        return None

    @property
    def method(self) -> str:
        return str(self.calendar.get("METHOD", "")) if self.calendar is not None else ""

    @property
    def event(self) -> Any:
        return next(c for c in self.calendar.subcomponents if c.name == "VEVENT")

    @property
    def uid(self) -> str:
        return str(self.event.get("UID")) if self.calendar is not None else ""

    @property
    def sequence(self) -> int:
        return int(self.event.get("SEQUENCE", 0))

    @property
    def start(self) -> datetime:
        return self.event.decoded("DTSTART").astimezone(UTC)

    @property
    def organizer(self) -> Any:
        return self.event.get("ORGANIZER")

    def partstats(self) -> dict[str, str]:
        """ATTENDEE email → PARTSTAT."""
        raw = self.event.get("ATTENDEE")
        items = [] if raw is None else raw if isinstance(raw, list) else [raw]
        return {str(a).lower().removeprefix("mailto:"): str(a.params.get("PARTSTAT", "NEEDS-ACTION")) for a in items}

    def text(self) -> str:
        """The plain-text body."""
        body = self.message.get_body(("plain",))
        return body.get_content() if body is not None else ""

    def line(self) -> str:
        """``recipient  METHOD  SEQUENCE  start  summary  attendee=PARTSTAT …``."""
        answers = " ".join(f"{email}={status}" for email, status in self.partstats().items())
        return (f"{','.join(self.recipients)}  {self.method}  SEQUENCE {self.sequence}  "
                f"{self.start:%Y-%m-%d %H:%M}Z  {self.event.get('SUMMARY')}  {answers}")  # fmt: skip


async def invites(reader: MailReader) -> list[Invite]:
    """Every caught message that carries an iCalendar invite, oldest first."""
    return [i for i in (Invite(m) for m in await reader.messages()) if i.calendar is not None]


def _matches(invite: Invite, args: argparse.Namespace) -> bool:
    return ((not args.uid or invite.uid == args.uid)
            and (not args.method or invite.method == args.method.upper())
            and (args.sequence is None or invite.sequence == args.sequence)
            and (not args.to or args.to.lower() in invite.recipients))  # fmt: skip


async def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="List the iMIP invites in the mail sink's directory.")
    parser.add_argument("mail", nargs="?", default="var/mail",
                        help="the mail sink's directory (default: var/mail) or Mailpit's base URL")
    parser.add_argument("--uid", help="only this event (the booking's delivery.ical_uid)")
    parser.add_argument("--method", help="only REQUEST, CANCEL, …")
    parser.add_argument("--sequence", type=int, help="only this SEQUENCE")
    parser.add_argument("--to", help="only messages to this recipient")
    parser.add_argument("--count", type=int, default=0, help="wait until this many match (delivery is asynchronous)")
    parser.add_argument("--timeout", type=float, default=20.0, help="how long --count waits (seconds)")
    args = parser.parse_args(argv)
    reader: MailReader = MailpitApi(args.mail) if args.mail.startswith(("http://", "https://")) else EmlDirectory(Path(args.mail))
    deadline = time.monotonic() + args.timeout
    while True:
        found = [i for i in await invites(reader) if _matches(i, args)]
        if len(found) >= args.count or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    for invite in found:
        print(invite.line())
    if len(found) < args.count:
        print(f"only {len(found)} of {args.count} matching messages arrived within {args.timeout:g}s", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(_main()))
