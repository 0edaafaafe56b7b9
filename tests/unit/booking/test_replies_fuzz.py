"""Whatever arrives by mail, parsing answers with a result and never raises."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.booking.invites.model import ItipResponse, MessageRejected
from services.booking.invites.replies import parse_itip_message

REPLY = (
    b"From: x@example.org\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
    b"Content-Type: text/calendar; method=REPLY\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    b"QkVHSU46VkNBTEVOREFSDQpNRVRIT0Q6UkVQTFkNClZFUlNJT046Mi4wDQpQUk9ESUQ6LS8veC8vRU4NCkJFR0lO"
    b"OlZFVkVOVA0KVUlEOnUxDQpEVFNUQU1QOjIwMjYwNDAyVDEwMTUwMFoNClNFUVVFTkNFOjANCkFUVEVOREVFO1BB"
    b"UlRTVEFUPUFDQ0VQVEVEOm1haWx0bzpib2JAZXhhbXBsZS5vcmcNCkVORDpWRVZFTlQNCkVORDpWQ0FMRU5EQVIN"
    b"Cg==\r\n--b--\r\n"
)

ICS_LINES = [
    "BEGIN:VCALENDAR",
    "END:VCALENDAR",
    "BEGIN:VEVENT",
    "END:VEVENT",
    "METHOD:REPLY",
    "METHOD:COUNTER",
    "UID:u1",
    "SEQUENCE:1",
    "SEQUENCE:-5",
    "SEQUENCE:99999999999999999999",
    "DTSTAMP:20260402T101500Z",
    "DTSTAMP:garbage",
    "DTSTART:20260501T090000Z",
    "DTSTART;TZID=Nowhere/Land:20260501T090000",
    "DTSTART;VALUE=DATE:20260501",
    "DTEND:20260501T080000Z",
    "DURATION:PT1H",
    "DURATION:nonsense",
    "ATTENDEE;PARTSTAT=ACCEPTED:mailto:bob@example.org",
    "ATTENDEE;PARTSTAT=DECLINED:MAILTO:carol@example.org",
    "ATTENDEE:urn:uuid:1234",
    'ATTENDEE;CN="unterminated:mailto:x@y.z',
    "COMMENT:hi",
    "BEGIN:VTIMEZONE",
    "TZID:X",
    "END:VTIMEZONE",
    " folded continuation",
]


def assert_answers(raw: bytes) -> None:
    result = parse_itip_message(raw)
    assert isinstance(result, ItipResponse | MessageRejected)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4096))
def test_random_bytes_never_raise(raw: bytes) -> None:
    assert_answers(raw)


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=len(REPLY)), st.binary(max_size=64), st.integers(min_value=0, max_value=64))
def test_a_real_reply_with_random_damage_never_raises(at: int, insert: bytes, cut: int) -> None:
    assert_answers(REPLY[:at] + insert + REPLY[at + cut :])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(ICS_LINES), max_size=30), st.sampled_from(["7bit", "base64", "quoted-printable"]))
def test_calendar_parts_assembled_from_odd_lines_never_raise(lines: list[str], cte: str) -> None:
    body = "\r\n".join(lines).encode()
    raw = (
        b"From: x@example.org\r\nContent-Type: text/calendar; method=REPLY\r\n"
        + f"Content-Transfer-Encoding: {cte}\r\n\r\n".encode()
        + body
    )
    assert_answers(raw)


def test_the_undamaged_fuzz_seed_is_a_reply() -> None:
    result = parse_itip_message(REPLY)
    assert isinstance(result, ItipResponse) and result.attendee_email == "bob@example.org"
