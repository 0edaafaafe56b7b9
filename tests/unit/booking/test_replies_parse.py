"""Reading iTIP replies out of real-world-shaped mail (Google, Outlook, Apple), and refusing the rest."""

from __future__ import annotations

import base64
import quopri
from datetime import UTC, datetime

import pytest

from services.booking.invites.model import (
    ItipResponse,
    MessageRejected,
    PartStat,
    RejectReason,
    ResponseMethod,
)
from services.booking.invites.replies import parse_itip_message

UID = "bk-1@rendezvous.example"


def crlf(text: str) -> bytes:
    return text.strip("\n").replace("\n", "\r\n").encode() + b"\r\n"


def b64(data: bytes) -> str:
    encoded = base64.encodebytes(data).decode()
    return encoded


GOOGLE_ICS = crlf(f"""
BEGIN:VCALENDAR
PRODID:-//Google Inc//Google Calendar 70.9054//EN
VERSION:2.0
CALSCALE:GREGORIAN
METHOD:REPLY
BEGIN:VEVENT
DTSTART:20260501T090000Z
DTEND:20260501T093000Z
DTSTAMP:20260402T101500Z
ORGANIZER;CN=Alice Adams:mailto:invites@mail.northwind.example
UID:{UID}
ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;CN=Bob Br
 own;X-NUM-GUESTS=0;X-RESPONSE-COMMENT="Looking forward":mailto:bob@gmail.c
 om
CREATED:20260401T083000Z
LAST-MODIFIED:20260402T101500Z
LOCATION:
SEQUENCE:2
STATUS:CONFIRMED
SUMMARY:Quarterly planning
TRANSP:OPAQUE
END:VEVENT
END:VCALENDAR
""")


def google_reply(ics: bytes = GOOGLE_ICS) -> bytes:
    return crlf(f"""
MIME-Version: 1.0
Date: Thu, 02 Apr 2026 10:15:00 +0000
Message-ID: <CAJ3=abc@mail.gmail.com>
Subject: Accepted: Quarterly planning @ Fri May 1, 2026 9am - 9:30am (UTC) (bob@gmail.com)
From: Bob Brown <bob@gmail.com>
To: invites@mail.northwind.example
Content-Type: multipart/mixed; boundary="000000000000a1"

--000000000000a1
Content-Type: multipart/alternative; boundary="000000000000a2"

--000000000000a2
Content-Type: text/plain; charset="UTF-8"; format=flowed; delsp=yes
Content-Transfer-Encoding: base64

{b64(b"Bob Brown has accepted this invitation.")}
--000000000000a2
Content-Type: text/html; charset="UTF-8"
Content-Transfer-Encoding: quoted-printable

<span>Bob Brown has accepted this invitation.</span>
--000000000000a2
Content-Type: text/calendar; charset="UTF-8"; method=REPLY
Content-Transfer-Encoding: 7bit

{ics.decode().replace(chr(13), "")}
--000000000000a2--
--000000000000a1
Content-Type: application/ics; name="invite.ics"
Content-Disposition: attachment; filename="invite.ics"
Content-Transfer-Encoding: base64

{b64(ics)}
--000000000000a1--
""")


OUTLOOK_ICS = crlf(f"""
BEGIN:VCALENDAR
METHOD:REPLY
PRODID:Microsoft Exchange Server 2010
VERSION:2.0
BEGIN:VTIMEZONE
TZID:W. Europe Standard Time
BEGIN:STANDARD
DTSTART:16010101T030000
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=10
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:16010101T020000
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=3
END:DAYLIGHT
END:VTIMEZONE
BEGIN:VEVENT
ATTENDEE;PARTSTAT=TENTATIVE;CN=Carol Ćwik:MAILTO:Carol.Cwik@Contoso.Example
COMMENT;LANGUAGE=en-US:I might be ten minutes late.\\n
SUMMARY;LANGUAGE=en-US:Tentative: Quarterly planning
DTSTART;TZID=W. Europe Standard Time:20260501T110000
DTEND;TZID=W. Europe Standard Time:20260501T113000
UID:{UID}
CLASS:PUBLIC
PRIORITY:5
DTSTAMP:20260402T120000Z
TRANSP:OPAQUE
STATUS:CONFIRMED
SEQUENCE:2
LOCATION;LANGUAGE=en-US:
X-MICROSOFT-CDO-APPT-SEQUENCE:2
X-MICROSOFT-CDO-OWNERAPPTID:-1
X-MICROSOFT-CDO-BUSYSTATUS:TENTATIVE
END:VEVENT
END:VCALENDAR
""")


def outlook_reply(ics: bytes = OUTLOOK_ICS) -> bytes:
    return crlf(f"""
From: =?utf-8?B?Q2Fyb2wgxIZ3aWs=?= <carol.cwik@contoso.example>
To: "Alice Adams (via Northwind)" <invites@mail.northwind.example>
Subject: Tentative: Quarterly planning
Thread-Topic: Quarterly planning
Date: Thu, 2 Apr 2026 12:00:00 +0000
Message-ID: <AM0PR01MB0001@AM0PR01MB0001.eurprd01.prod.outlook.com>
Content-Language: en-US
X-MS-Has-Attach:
Content-Type: multipart/alternative; boundary="_000_AM0PR01MB0001_"
MIME-Version: 1.0

--_000_AM0PR01MB0001_
Content-Type: text/plain; charset="utf-8"
Content-Transfer-Encoding: base64

{b64(b"I might be ten minutes late.")}
--_000_AM0PR01MB0001_
Content-Type: text/calendar; charset="utf-8"; method=REPLY
Content-class: urn:content-classes:calendarmessage
Content-Transfer-Encoding: base64

{b64(ics)}
--_000_AM0PR01MB0001_--
""")


APPLE_ICS = crlf(f"""
BEGIN:VCALENDAR
CALSCALE:GREGORIAN
PRODID:-//Apple Inc.//macOS 14.4//EN
VERSION:2.0
METHOD:REPLY
BEGIN:VTIMEZONE
TZID:Europe/Berlin
BEGIN:DAYLIGHT
DTSTART:19810329T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
TZNAME:CEST
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
END:DAYLIGHT
BEGIN:STANDARD
DTSTART:19961027T030000
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
TZNAME:CET
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
END:STANDARD
END:VTIMEZONE
BEGIN:VEVENT
ATTENDEE;CN=Dan Dörr;CUTYPE=INDIVIDUAL;EMAIL=dan@icloud.example;PARTSTAT=DECLINED:mailto:dan@icloud.example
DTEND;TZID=Europe/Berlin:20260501T113000
DTSTAMP:20260403T070000Z
DTSTART;TZID=Europe/Berlin:20260501T110000
ORGANIZER;CN="Alice Adams":mailto:invites@mail.northwind.example
REQUEST-STATUS:2.0;Success
SEQUENCE:2
SUMMARY:Quarterly planning
UID:{UID}
END:VEVENT
END:VCALENDAR
""")


def apple_reply(ics: bytes = APPLE_ICS) -> bytes:
    qp = quopri.encodestring(ics).decode().replace("\r", "")
    return crlf(f"""
Content-Type: multipart/mixed;
\tboundary="Apple-Mail=_5E1B0C2A-1111"
Mime-Version: 1.0 (Mac OS X Mail 16.0)
Subject: Declined: Quarterly planning
From: Dan <dan.personal@icloud.example>
Date: Fri, 3 Apr 2026 09:00:00 +0200
Message-Id: <ABCD-1234@icloud.example>
To: invites@mail.northwind.example

--Apple-Mail=_5E1B0C2A-1111
Content-Transfer-Encoding: 7bit
Content-Type: text/plain;
\tcharset=us-ascii

Dan has declined your invitation.

--Apple-Mail=_5E1B0C2A-1111
Content-Disposition: attachment;
\tfilename=iCal-20260403-070000.ics
Content-Type: text/calendar;
\tx-unix-mode=0644;
\tname="iCal-20260403-070000.ics";
\tmethod=REPLY;
\tcharset=utf-8
Content-Transfer-Encoding: quoted-printable

{qp}
--Apple-Mail=_5E1B0C2A-1111--
""")


def reply(raw: bytes) -> ItipResponse:
    result = parse_itip_message(raw)
    assert isinstance(result, ItipResponse), result
    return result


def rejected(raw: bytes) -> MessageRejected:
    result = parse_itip_message(raw)
    assert isinstance(result, MessageRejected), result
    return result


def test_a_google_reply_gives_uid_sequence_stamp_attendee_status_and_comment() -> None:
    r = reply(google_reply())
    assert r.method is ResponseMethod.REPLY
    assert (r.uid, r.sequence) == (UID, 2)
    assert r.dtstamp == datetime(2026, 4, 2, 10, 15, tzinfo=UTC)
    assert r.attendee_email == "bob@gmail.com"
    assert r.attendee_name == "Bob Brown"
    assert r.partstat is PartStat.ACCEPTED
    assert r.comment == "Looking forward"
    assert r.proposed_start is None and r.proposed_end is None


def test_an_outlook_reply_in_base64_with_upper_case_mailto_is_read_case_insensitively() -> None:
    r = reply(outlook_reply())
    assert r.attendee_email == "carol.cwik@contoso.example"
    assert r.partstat is PartStat.TENTATIVE
    assert r.comment == "I might be ten minutes late."
    assert r.attendee_name == "Carol Ćwik"
    assert (r.uid, r.sequence) == (UID, 2)


def test_an_apple_reply_attached_in_quoted_printable_is_found() -> None:
    r = reply(apple_reply())
    assert r.attendee_email == "dan@icloud.example"  # the ATTENDEE, not the From address
    assert r.partstat is PartStat.DECLINED
    assert r.dtstamp == datetime(2026, 4, 3, 7, 0, tzinfo=UTC)


def test_a_bare_text_calendar_message_is_read() -> None:
    raw = crlf("""
From: someone@example.org
Subject: Accepted
Content-Type: text/calendar; method=REPLY; charset=UTF-8
Content-Transfer-Encoding: 7bit
""") + b"\r\n" + GOOGLE_ICS
    assert reply(raw).partstat is PartStat.ACCEPTED


def test_a_reply_forwarded_inside_another_message_is_found_at_any_depth() -> None:
    head = crlf("""
From: postmaster@relay.example
Subject: Fwd: Tentative
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer"

--outer
Content-Type: text/plain

Forwarded.
--outer
Content-Type: message/rfc822
""")
    raw = head + b"\r\n" + outlook_reply() + b"\r\n--outer--\r\n"
    assert reply(raw).attendee_email == "carol.cwik@contoso.example"


def test_a_google_counter_proposes_a_new_time() -> None:
    ics = GOOGLE_ICS.replace(b"METHOD:REPLY", b"METHOD:COUNTER").replace(
        b"DTSTART:20260501T090000Z\r\nDTEND:20260501T093000Z", b"DTSTART:20260501T140000Z\r\nDTEND:20260501T143000Z"
    ).replace(b"STATUS:CONFIRMED", b"COMMENT:Afternoon works better")
    r = reply(google_reply(ics))
    assert r.method is ResponseMethod.COUNTER
    assert r.proposed_start == datetime(2026, 5, 1, 14, 0, tzinfo=UTC)
    assert r.proposed_end == datetime(2026, 5, 1, 14, 30, tzinfo=UTC)
    assert r.comment == "Afternoon works better"
    assert r.attendee_email == "bob@gmail.com"


def test_an_outlook_counter_in_a_windows_time_zone_is_converted_to_utc() -> None:
    ics = (
        OUTLOOK_ICS.replace(b"METHOD:REPLY", b"METHOD:COUNTER")
        .replace(b"20260501T110000", b"20260504T150000")
        .replace(b"20260501T113000", b"20260504T160000")
    )
    r = reply(outlook_reply(ics))
    assert r.proposed_start == datetime(2026, 5, 4, 13, 0, tzinfo=UTC)  # 15:00 CEST
    assert r.proposed_end == datetime(2026, 5, 4, 14, 0, tzinfo=UTC)


def test_a_counter_with_a_duration_instead_of_an_end_is_understood() -> None:
    ics = GOOGLE_ICS.replace(b"METHOD:REPLY", b"METHOD:COUNTER").replace(
        b"DTSTART:20260501T090000Z\r\nDTEND:20260501T093000Z", b"DTSTART:20260502T080000Z\r\nDURATION:PT45M"
    )
    r = reply(google_reply(ics))
    assert (r.proposed_start, r.proposed_end) == (
        datetime(2026, 5, 2, 8, 0, tzinfo=UTC),
        datetime(2026, 5, 2, 8, 45, tzinfo=UTC),
    )


def test_a_refresh_is_noted() -> None:
    ics = crlf(f"""
BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Example//EN
METHOD:REFRESH
BEGIN:VEVENT
UID:{UID}
DTSTAMP:20260402T101500Z
ORGANIZER:mailto:invites@mail.northwind.example
ATTENDEE:mailto:bob@gmail.com
END:VEVENT
END:VCALENDAR
""")
    r = reply(google_reply(ics))
    assert (r.method, r.attendee_email, r.partstat, r.sequence) == (ResponseMethod.REFRESH, "bob@gmail.com", None, 0)


def test_a_delegate_answering_for_someone_is_recorded_as_sent_by() -> None:
    ics = GOOGLE_ICS.replace(b"CN=Bob Br", b'SENT-BY="MAILTO:Assistant@gmail.com";CN=Bob Br')
    r = reply(google_reply(ics))
    assert (r.attendee_email, r.sent_by) == ("bob@gmail.com", "assistant@gmail.com")


def test_a_reply_echoing_every_attendee_uses_the_single_one_who_answered() -> None:
    ics = GOOGLE_ICS.replace(
        b"CREATED:", b"ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:carol@contoso.example\r\nCREATED:"
    )
    assert reply(google_reply(ics)).attendee_email == "bob@gmail.com"


def test_from_is_never_used_to_identify_the_attendee() -> None:
    raw = google_reply().replace(b"From: Bob Brown <bob@gmail.com>", b"From: Mallory <mallory@evil.example>")
    assert reply(raw).attendee_email == "bob@gmail.com"


def test_an_unknown_partstat_is_read_as_absent() -> None:
    r = reply(google_reply(GOOGLE_ICS.replace(b"PARTSTAT=ACCEPTED", b"PARTSTAT=X-MAYBE")))
    assert r.partstat is None


@pytest.mark.parametrize(
    ("raw", "reason", "method"),
    [
        (b"", RejectReason.MESSAGE_MALFORMED, ""),
        (b"\x00\xff\xfe garbage without headers", RejectReason.MESSAGE_MALFORMED, ""),
        (crlf("From: a@b.example\nSubject: hello\n\nJust text."), RejectReason.MESSAGE_NOT_A_REPLY, ""),
        (google_reply(GOOGLE_ICS.replace(b"METHOD:REPLY", b"METHOD:REQUEST")), RejectReason.MESSAGE_NOT_A_REPLY, "REQUEST"),
        (google_reply(GOOGLE_ICS.replace(b"METHOD:REPLY\r\n", b"")), RejectReason.MESSAGE_NOT_A_REPLY, ""),
        (google_reply(GOOGLE_ICS.replace(b"UID:", b"X-UID:")), RejectReason.MESSAGE_MALFORMED, ""),
        (google_reply(GOOGLE_ICS.replace(b"ATTENDEE;", b"X-ATTENDEE;")), RejectReason.MESSAGE_MALFORMED, ""),
        (google_reply(GOOGLE_ICS.replace(b"SEQUENCE:2", b"SEQUENCE:two")), RejectReason.MESSAGE_MALFORMED, ""),
        (google_reply(GOOGLE_ICS.replace(b"mailto:bob@gmail.c\r\n om", b"mailto:nobody")), RejectReason.MESSAGE_MALFORMED, ""),
        (google_reply(b"BEGIN:VCALENDAR\r\nthis is not\r\n"), RejectReason.MESSAGE_MALFORMED, ""),
        (
            google_reply(GOOGLE_ICS.replace(b"BEGIN:VEVENT", b"BEGIN:VTODO").replace(b"END:VEVENT", b"END:VTODO")),
            RejectReason.MESSAGE_MALFORMED,
            "",
        ),
    ],
    ids=[
        "empty",
        "binary",
        "no-calendar",
        "a-request",
        "no-method",
        "no-uid",
        "no-attendee",
        "bad-sequence",
        "not-an-address",
        "broken-ics",
        "not-an-event",
    ],
)
def test_unusable_mail_is_rejected_with_a_reason_never_an_exception(
    raw: bytes, reason: RejectReason, method: str
) -> None:
    result = rejected(raw)
    assert result.reason is reason
    assert result.method == method
    assert result.detail


def test_a_reply_with_several_answered_attendees_is_malformed() -> None:
    ics = GOOGLE_ICS.replace(b"CREATED:", b"ATTENDEE;PARTSTAT=DECLINED:mailto:carol@contoso.example\r\nCREATED:")
    assert rejected(google_reply(ics)).reason is RejectReason.MESSAGE_MALFORMED


def test_a_message_over_the_size_limit_is_rejected() -> None:
    big = google_reply() + b"x" * (3 * 1024 * 1024)
    assert rejected(big).reason is RejectReason.MESSAGE_MALFORMED


def test_mangled_line_ends_from_a_mail_gateway_are_tolerated() -> None:
    head = crlf("""
From: someone@example.org
Subject: Accepted
Content-Type: text/calendar; method=REPLY; charset=UTF-8
""")
    raw = head + b"\r\n" + GOOGLE_ICS.replace(b"\r\n", b"\r\r\n")
    assert reply(raw).dtstamp == datetime(2026, 4, 2, 10, 15, tzinfo=UTC)
