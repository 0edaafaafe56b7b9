"""The reply policy: who may answer, which answer wins, what is reported back."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from services.booking.invites.model import (
    AttendeeReplyState,
    BookingReplyState,
    ItipResponse,
    PartStat,
    ReplyOutcome,
    ResponseMethod,
)
from services.booking.invites.replies import decide

NOW = datetime(2026, 4, 2, 12, 0, tzinfo=UTC)
STAMP = datetime(2026, 4, 2, 10, 0, tzinfo=UTC)

BOOKING = BookingReplyState(
    booking_id="bk-1",
    uid="bk-1@rendezvous.example",
    sequence=2,
    parties=(
        AttendeeReplyState("alice@northwind.example", PartStat.ACCEPTED),
        AttendeeReplyState("bob@fabrikam.example"),
        AttendeeReplyState("carol@contoso.example", PartStat.TENTATIVE, last_sequence=2, last_dtstamp=STAMP),
    ),
    organizer_email="alice@northwind.example",
)


def a_reply(**changes: object) -> ItipResponse:
    response = ItipResponse(
        method=ResponseMethod.REPLY,
        uid="bk-1@rendezvous.example",
        sequence=2,
        dtstamp=STAMP,
        attendee_email="bob@fabrikam.example",
        partstat=PartStat.ACCEPTED,
        comment="See you",
    )
    return replace(response, **changes)  # type: ignore[arg-type]


def test_an_attendees_accept_is_applied_and_reported_to_the_organizer() -> None:
    d = decide(BOOKING, a_reply(), received_at=NOW)
    assert d.outcome is ReplyOutcome.APPLIED and d.reason == ""
    assert (d.booking_id, d.attendee_email, d.partstat, d.comment) == ("bk-1", "bob@fabrikam.example", PartStat.ACCEPTED, "See you")
    assert (d.responded_at, d.sequence) == (STAMP, 2)
    assert d.report_to_organizer and not d.resend_latest


def test_the_attendee_is_matched_case_insensitively() -> None:
    d = decide(BOOKING, a_reply(attendee_email="Bob@Fabrikam.EXAMPLE"), received_at=NOW)
    assert d.outcome is ReplyOutcome.APPLIED and d.attendee_email == "bob@fabrikam.example"


def test_an_unknown_uid_is_rejected() -> None:
    d = decide(None, a_reply(), received_at=NOW)
    assert (d.outcome, d.reason, d.booking_id) == (ReplyOutcome.REJECTED, "BOOKING_NOT_FOUND", "")


def test_someone_not_invited_is_a_party_crasher_and_rejected() -> None:
    d = decide(BOOKING, a_reply(attendee_email="mallory@evil.example"), received_at=NOW)
    assert (d.outcome, d.reason, d.booking_id, d.attendee_email) == (
        ReplyOutcome.REJECTED,
        "ATTENDEE_NOT_FOUND",
        "bk-1",
        "mallory@evil.example",
    )


def test_a_reply_to_an_older_version_is_ignored_as_stale() -> None:
    d = decide(BOOKING, a_reply(sequence=1), received_at=NOW)
    assert (d.outcome, d.reason) == (ReplyOutcome.IGNORED_STALE, "REPLY_STALE")


def test_an_older_or_repeated_answer_of_the_same_version_is_ignored() -> None:
    older = a_reply(attendee_email="carol@contoso.example", dtstamp=STAMP - timedelta(minutes=1))
    repeat = a_reply(attendee_email="carol@contoso.example", dtstamp=STAMP)
    for response in (older, repeat):
        d = decide(BOOKING, response, received_at=NOW)
        assert (d.outcome, d.reason) == (ReplyOutcome.IGNORED_STALE, "REPLY_STALE")


def test_a_newer_answer_of_the_same_version_wins() -> None:
    d = decide(
        BOOKING,
        a_reply(attendee_email="carol@contoso.example", dtstamp=STAMP + timedelta(minutes=1), partstat=PartStat.DECLINED),
        received_at=NOW,
    )
    assert (d.outcome, d.partstat) == (ReplyOutcome.APPLIED, PartStat.DECLINED)


def test_a_newer_version_wins_even_with_an_earlier_stamp() -> None:
    booking = replace(BOOKING, sequence=3)
    d = decide(booking, a_reply(attendee_email="carol@contoso.example", sequence=3, dtstamp=STAMP - timedelta(days=1)), received_at=NOW)
    assert d.outcome is ReplyOutcome.APPLIED and d.sequence == 3


def test_a_sequence_above_the_bookings_counts_as_the_bookings() -> None:
    d = decide(BOOKING, a_reply(sequence=9), received_at=NOW)
    assert d.outcome is ReplyOutcome.APPLIED and d.sequence == 2


def test_a_reply_without_a_stamp_is_stamped_when_received() -> None:
    d = decide(BOOKING, a_reply(dtstamp=None), received_at=NOW)
    assert d.responded_at == NOW


def test_a_naive_recorded_stamp_from_the_database_is_read_as_utc() -> None:
    naive = replace(BOOKING.parties[2], last_dtstamp=STAMP.replace(tzinfo=None))
    booking = replace(BOOKING, parties=(BOOKING.parties[0], BOOKING.parties[1], naive))
    d = decide(booking, a_reply(attendee_email="carol@contoso.example"), received_at=NOW)
    assert d.outcome is ReplyOutcome.IGNORED_STALE


def test_replies_to_a_cancelled_booking_change_nothing() -> None:
    d = decide(replace(BOOKING, cancelled=True), a_reply(), received_at=NOW)
    assert (d.outcome, d.reason) == (ReplyOutcome.IGNORED_STALE, "REPLY_STALE")


def test_a_counter_records_the_proposal_and_keeps_the_status_it_does_not_carry() -> None:
    start = datetime(2026, 5, 1, 14, tzinfo=UTC)
    counter = a_reply(
        method=ResponseMethod.COUNTER,
        attendee_email="carol@contoso.example",
        dtstamp=STAMP + timedelta(hours=1),
        partstat=None,
        proposed_start=start,
        proposed_end=start + timedelta(minutes=30),
    )
    d = decide(BOOKING, counter, received_at=NOW)
    assert d.outcome is ReplyOutcome.APPLIED
    assert d.partstat is PartStat.TENTATIVE
    assert (d.proposed_start, d.proposed_end) == (start, start + timedelta(minutes=30))
    assert d.report_to_organizer


def test_a_reply_without_partstat_means_needs_action() -> None:
    d = decide(BOOKING, a_reply(partstat=None), received_at=NOW)
    assert d.partstat is PartStat.NEEDS_ACTION


def test_the_organizers_own_answer_is_recorded_but_not_reported_to_them() -> None:
    d = decide(BOOKING, a_reply(attendee_email="alice@northwind.example", partstat=PartStat.DECLINED), received_at=NOW)
    assert d.outcome is ReplyOutcome.APPLIED and d.partstat is PartStat.DECLINED
    assert not d.report_to_organizer


def test_a_refresh_asks_for_the_latest_request_whatever_its_sequence() -> None:
    refresh = a_reply(method=ResponseMethod.REFRESH, sequence=0, partstat=None, attendee_email="carol@contoso.example")
    d = decide(BOOKING, refresh, received_at=NOW)
    assert d.outcome is ReplyOutcome.APPLIED
    assert d.resend_latest and not d.report_to_organizer
    assert d.partstat is PartStat.TENTATIVE  # unchanged
    assert d.responded_at is None  # nothing to record


def test_a_refresh_from_a_stranger_is_rejected() -> None:
    refresh = a_reply(method=ResponseMethod.REFRESH, attendee_email="eve@evil.example")
    assert decide(BOOKING, refresh, received_at=NOW).reason == "ATTENDEE_NOT_FOUND"
