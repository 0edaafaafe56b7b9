"""The iCalendar bodies of emailed invites, built and parsed back with icalendar."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar, Event, Timezone

from services.booking.invites.ics import cancel_ics, request_ics
from services.booking.invites.model import CuType, InviteEvent, InviteParty, PartStat, Role

STAMP = datetime(2026, 4, 1, 8, 30, tzinfo=UTC)
START = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)

BOB = InviteParty("bob@fabrikam.example", "Bob Brown")
CAROL = InviteParty("carol@contoso.example", "Carol", role=Role.OPT, partstat=PartStat.TENTATIVE)


def an_event(**changes: object) -> InviteEvent:
    event = InviteEvent(
        uid="bk-1@rendezvous.example",
        sequence=0,
        start=START,
        end=START + timedelta(hours=1),
        summary="Quarterly planning",
        organizer_mailbox="invites@mail.northwind.example",
        organizer_name="Alice Adams",
        organizer_email="alice@northwind.example",
        attendees=(BOB, CAROL),
        description="Agenda: numbers",
        location="Room 4",
    )
    return replace(event, **changes)  # type: ignore[arg-type]


def parsed(ics: bytes) -> tuple[Calendar, Event]:
    cal = Calendar.from_ical(ics)
    assert len(cal.events) == 1
    return cal, cal.events[0]


def attendees_by_email(event: Event) -> dict[str, dict[str, str]]:
    return {a.email: dict(a.params) for a in event.attendees}


def test_a_request_carries_method_uid_sequence_stamp_and_times_in_utc() -> None:
    cal, ev = parsed(request_ics(an_event(sequence=3), stamp=STAMP))
    assert cal.method == "REQUEST"
    assert str(cal["VERSION"]) == "2.0" and str(cal["PRODID"])
    assert ev.uid == "bk-1@rendezvous.example"
    assert ev.sequence == 3
    assert ev.stamp == STAMP
    assert ev.start == START and ev.end == START + timedelta(hours=1)
    assert isinstance(ev.start, datetime) and ev.start.utcoffset() == timedelta(0)
    assert str(ev["STATUS"]) == "CONFIRMED"
    assert ev.summary == "Quarterly planning" and str(ev["LOCATION"]) == "Room 4"
    assert not cal.timezones
    assert b"DTSTART:20260501T090000Z" in request_ics(an_event(), stamp=STAMP)


def test_the_organizer_is_the_unit_mailbox_named_after_the_human_and_sent_by_them() -> None:
    _, ev = parsed(request_ics(an_event(), stamp=STAMP))
    organizer = ev.organizer
    assert organizer is not None
    assert str(organizer).startswith("mailto:")
    assert organizer.email == "invites@mail.northwind.example"
    assert organizer.params["CN"] == "Alice Adams"
    assert organizer.params["SENT-BY"] == "mailto:alice@northwind.example"


def test_sent_by_can_be_left_out() -> None:
    _, ev = parsed(request_ics(an_event(sent_by=False), stamp=STAMP))
    assert ev.organizer is not None and "SENT-BY" not in ev.organizer.params


def test_the_human_organizer_is_a_chair_attendee_and_everyone_else_is_asked_to_reply() -> None:
    _, ev = parsed(request_ics(an_event(), stamp=STAMP))
    people = attendees_by_email(ev)
    assert list(people) == ["alice@northwind.example", "bob@fabrikam.example", "carol@contoso.example"]
    alice = people["alice@northwind.example"]
    assert (alice["ROLE"], alice["PARTSTAT"], alice["CUTYPE"]) == ("CHAIR", "ACCEPTED", "INDIVIDUAL")
    assert "RSVP" not in alice
    bob = people["bob@fabrikam.example"]
    assert (bob["ROLE"], bob["PARTSTAT"], bob["RSVP"], bob["CN"]) == (
        "REQ-PARTICIPANT",
        "NEEDS-ACTION",
        "TRUE",
        "Bob Brown",
    )
    carol = people["carol@contoso.example"]
    assert (carol["ROLE"], carol["PARTSTAT"], carol["RSVP"]) == ("OPT-PARTICIPANT", "TENTATIVE", "TRUE")


def test_an_organizer_still_to_answer_is_listed_pending_with_rsvp() -> None:
    _, ev = parsed(request_ics(an_event(organizer_partstat=PartStat.NEEDS_ACTION), stamp=STAMP))
    alice = attendees_by_email(ev)["alice@northwind.example"]
    assert (alice["ROLE"], alice["PARTSTAT"], alice["RSVP"]) == ("CHAIR", "NEEDS-ACTION", "TRUE")


def test_local_times_come_with_a_narrow_vtimezone() -> None:
    ics = request_ics(an_event(time_zone="Europe/Berlin"), stamp=STAMP)
    cal, ev = parsed(ics)
    assert [str(tz["TZID"]) for tz in cal.timezones] == ["Europe/Berlin"]
    assert b"DTSTART;TZID=Europe/Berlin:20260501T110000" in ics
    assert ev.start == START  # the same instant
    # one calendar year, with both observances, not the 1970-2038 default
    observances = {c.name for c in cal.timezones[0].subcomponents}
    assert observances == {"STANDARD", "DAYLIGHT"}
    assert len(ics) < 2500
    assert not cal.get_missing_tzids()


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"])
def test_each_invite_carries_a_fresh_vtimezone_of_the_years_its_event_touches(zone: str) -> None:
    new_year = an_event(time_zone=zone, start=datetime(2026, 12, 31, 22, tzinfo=UTC),
                        end=datetime(2027, 1, 1, 1, tzinfo=UTC))  # fmt: skip
    for event in (an_event(time_zone=zone), new_year, an_event(time_zone=zone, summary="Again")):
        ics = request_ics(event, stamp=STAMP)
        first, last = event.start.astimezone(ZoneInfo(zone)).year, event.end.astimezone(ZoneInfo(zone)).year + 1
        fresh = Timezone.from_tzid(zone, first_date=date(first, 1, 1), last_date=date(last, 1, 1)).to_ical()
        assert ics.count(b"BEGIN:VTIMEZONE") == 1
        assert fresh in ics  # the cached component says exactly what a new one would


def test_a_conference_is_a_conference_property_a_google_field_and_in_the_text() -> None:
    event = an_event(
        location="",
        conference_url="https://zoom.example/j/123",
        conference_name="Zoom",
        conference_details="Meeting ID 123, passcode 4242",
    )
    _, ev = parsed(request_ics(event, stamp=STAMP))
    assert [(c.uri, c.label) for c in ev.conferences] == [("https://zoom.example/j/123", "Zoom")]
    assert str(ev["X-GOOGLE-CONFERENCE"]) == "https://zoom.example/j/123"
    assert str(ev["LOCATION"]) == "https://zoom.example/j/123"
    description = str(ev["DESCRIPTION"])
    assert description.startswith("Agenda: numbers")
    assert "https://zoom.example/j/123" in description and "passcode 4242" in description


def test_without_a_conference_there_is_no_conference_property() -> None:
    _, ev = parsed(request_ics(an_event(), stamp=STAMP))
    assert not ev.conferences and "X-GOOGLE-CONFERENCE" not in ev


def test_text_with_commas_semicolons_and_newlines_round_trips() -> None:
    summary = "Plän, review; and\nnext steps"
    _, ev = parsed(request_ics(an_event(summary=summary), stamp=STAMP))
    assert ev.summary == summary


def test_a_whole_event_cancel_lists_everyone_is_cancelled_and_has_no_rsvp() -> None:
    cal, ev = parsed(cancel_ics(an_event(sequence=2), stamp=STAMP))
    assert cal.method == "CANCEL"
    assert str(ev["STATUS"]) == "CANCELLED"
    assert ev.sequence == 2
    people = attendees_by_email(ev)
    assert set(people) == {"alice@northwind.example", "bob@fabrikam.example", "carol@contoso.example"}
    assert all("RSVP" not in p for p in people.values())
    assert not ev.walk("VALARM")


def test_an_uninvite_cancel_lists_only_the_removed_attendees_and_no_status() -> None:
    event = an_event(sequence=1, attendees=(CAROL,))
    cal, ev = parsed(cancel_ics(event, stamp=STAMP, removed=[BOB]))
    assert cal.method == "CANCEL"
    assert "STATUS" not in ev
    assert list(attendees_by_email(ev)) == ["bob@fabrikam.example"]
    assert ev.sequence == 1 and ev.uid == event.uid


def test_output_is_deterministic_for_the_same_input() -> None:
    assert request_ics(an_event(), stamp=STAMP) == request_ics(an_event(), stamp=STAMP)


@pytest.mark.parametrize(
    "changes",
    [
        {"attendees": (InviteParty("room-1@northwind.example", cutype=CuType.ROOM),)},
        {"attendees": (BOB, InviteParty("BOB@fabrikam.example"))},
        {"attendees": (InviteParty("alice@northwind.example"),)},
        {"attendees": (InviteParty("invites@mail.northwind.example"),)},
        {"end": START},
        {"start": datetime(2026, 5, 1, 9)},
        {"organizer_email": "invites@mail.northwind.example"},
        {"time_zone": "Mars/Olympus_Mons"},
    ],
    ids=["room", "duplicate", "organizer-as-attendee", "mailbox-as-attendee", "empty", "naive", "same-as-mailbox", "zone"],
)
def test_invites_no_client_could_use_are_refused(changes: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        request_ics(an_event(**changes), stamp=STAMP)


def test_names_with_quotes_and_line_breaks_become_plain_one_line_common_names() -> None:
    event = an_event(organizer_name='Alice "Al" Adams', attendees=(InviteParty("bob@fabrikam.example", "Bob\n Brown, Jr."),))
    ics = request_ics(event, stamp=STAMP)
    assert b"^'" not in ics and b"^n" not in ics
    _, ev = parsed(ics)
    assert ev.organizer is not None and ev.organizer.params["CN"] == "Alice 'Al' Adams"
    assert attendees_by_email(ev)["bob@fabrikam.example"]["CN"] == "Bob Brown, Jr."
