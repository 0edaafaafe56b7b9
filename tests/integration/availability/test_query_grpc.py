"""QueryAvailability and GetFreeBusy through gRPC against the sandbox: the three access modes,
Google and Microsoft in one query, provider semantics and provider faults."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp
from grpc_status import rpc_status

from kit.errors import Unavailable
from kit.grpc_errors import unpack_error
from rendezvous.availability.v1 import availability_resources_pb2 as res
from rendezvous.availability.v1 import availability_service_pb2 as pb
from rendezvous.common.v1 import common_pb2

from .conftest import AUTH
from .standins import ORG

ADA, ALAN, GRACE = "ada@northwind.example", "alan@northwind.example", "grace@northwind.example"
ADELE, MEGAN, ALEX = "adele@contoso.example", "megan@contoso.example", "alex@contoso.example"
PATTI = "patti@fabrikam.example"
OK = res.MemberDiagnostics.STATUS_OK
UNAVAILABLE = res.MemberDiagnostics.STATUS_UNAVAILABLE
PROVIDER, BOOKINGS, RULES = res.SOURCE_PROVIDER_FREE_BUSY, res.SOURCE_BOOKINGS, res.SOURCE_AVAILABILITY_RULES


def at(text: str) -> Timestamp:
    return Timestamp(seconds=int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()))


def text(ts: Timestamp) -> str:
    return datetime.fromtimestamp(ts.seconds, UTC).strftime("%m-%d %H:%M")


def minutes(n: int) -> Duration:
    return Duration(seconds=n * 60)


def window(start: str, end: str) -> common_pb2.TimeRange:
    return common_pb2.TimeRange(start_time=at(start), end_time=at(end))


def query(groups: list[tuple[list[str], int]], start: str, end: str, *, duration: int = 30, fmt: Any = pb.RESPONSE_FORMAT_PERIODS, **extra: Any) -> pb.QueryAvailabilityRequest:
    return pb.QueryAvailabilityRequest(
        org_unit_id=ORG,
        participant_groups=[pb.ParticipantGroup(members=[pb.Member(email=e) for e in emails], required_count=n) for emails, n in groups],
        query_periods=[window(start, end)],
        duration=minutes(duration),
        response_format=fmt,
        **extra,
    )


def periods(answer: pb.QueryAvailabilityResponse) -> list[tuple[str, str, list[str]]]:
    return [(text(p.start_time), text(p.end_time), [m.email for m in p.participants]) for p in answer.available_periods]


def diagnostics(answer) -> dict[str, res.MemberDiagnostics]:
    return {d.email: d for d in answer.member_diagnostics}


def busy(answer: pb.GetFreeBusyResponse) -> list[tuple[str, str, int, int]]:
    return [(text(p.start_time), text(p.end_time), p.source, p.status) for p in answer.busy_periods]


# ------------------------------------------------------------------------------ semantics
# What the demo fixture holds, as each provider reports it (times UTC):
#   Ada (Google, Europe/London) on 1 October: design review 13-14 (busy), vendor call 15-15:30 (she
#   answered tentative), all-hands dry run 16-17 (declined), 1:1 10-11 (cancelled), a reminder 11-12
#   and focus time 07-08 (transparent), a working-location event all day; all day 7 October (Offsite);
#   out of office 12-13 October.
#   Adele (Microsoft, Pacific) on 5 October: design review 16-17 (busy), 1:1 20-20:30 (tentative),
#   focus 22-23 (free); all day 6 October working elsewhere; 7 October a cancelled sync 17-18 and a
#   private appointment 19-20 (busy); all day 9 October out of office.
BUSY, TENTATIVE, OOF = res.BUSY_STATUS_BUSY, res.BUSY_STATUS_TENTATIVE, res.BUSY_STATUS_OUT_OF_OFFICE
SEMANTICS: dict[str, tuple[str, str, Any, bool]] = {
    "google busy blocks": (ADA, "2026-10-01T00:00", ("10-01 13:00", "10-01 14:00", BUSY), True),
    "google tentative blocks": (ADA, "2026-10-01T00:00", ("10-01 15:00", "10-01 15:30", BUSY), True),
    "google declined does not block": (ADA, "2026-10-01T00:00", "10-01 16:", False),
    "google cancelled does not block": (ADA, "2026-10-01T00:00", "10-01 10:", False),
    "google transparent does not block": (ADA, "2026-10-01T00:00", "10-01 11:", False),
    "google transparent focus time does not block": (ADA, "2026-10-01T00:00", "10-01 07:", False),
    "google working location does not block": (ADA, "2026-10-01T00:00", "10-01 00:", False),
    "google all-day event blocks the whole local day": (ADA, "2026-10-06T00:00", ("10-06 23:00", "10-07 23:00", BUSY), True),
    "google out of office blocks": (ADA, "2026-10-11T00:00", ("10-11 23:00", "10-13 23:00", BUSY), True),
    "graph busy blocks": (ADELE, "2026-10-05T00:00", ("10-05 16:00", "10-05 17:00", BUSY), True),
    "graph tentative blocks": (ADELE, "2026-10-05T00:00", ("10-05 20:00", "10-05 20:30", TENTATIVE), True),
    "graph free does not block": (ADELE, "2026-10-05T00:00", "10-05 22:", False),
    "graph working elsewhere does not block": (ADELE, "2026-10-06T00:00", "10-06", False),
    "graph cancelled does not block": (ADELE, "2026-10-07T00:00", "10-07 17:", False),
    "graph private busy blocks": (ADELE, "2026-10-07T00:00", ("10-07 19:00", "10-07 20:00", BUSY), True),
    "graph all-day out of office blocks the whole local day": (ADELE, "2026-10-09T00:00", ("10-09 07:00", "10-10 07:00", OOF), True),
}


@pytest.mark.parametrize("case", list(SEMANTICS), ids=list(SEMANTICS))
async def test_provider_free_busy_semantics(stack, case):
    email, day, expected, blocks = SEMANTICS[case]
    start = datetime.fromisoformat(day)
    end = start + timedelta(days=3)
    answer = await stack.call(
        "GetFreeBusy", pb.GetFreeBusyRequest(org_unit_id=ORG, email=email, window=window(day, end.isoformat()))
    )
    assert answer.diagnostics.status == OK
    got = [(a, b, status) for a, b, source, status in busy(answer) if source == PROVIDER]
    if blocks:
        assert expected in got
    else:
        assert not any(a.startswith(expected) for a, _, _ in got), got


async def test_read_write_google_member_is_read_from_provider_bookings_and_rules(stack):
    answer = await stack.call("GetFreeBusy", pb.GetFreeBusyRequest(org_unit_id=ORG, email=ADA, window=window("2026-10-01T00:00", "2026-10-02T00:00")))
    assert busy(answer) == [
        ("10-01 13:00", "10-01 14:00", PROVIDER, res.BUSY_STATUS_BUSY),
        ("10-01 15:00", "10-01 15:30", PROVIDER, res.BUSY_STATUS_BUSY),
    ]
    d = answer.diagnostics
    assert (d.status, d.access_mode, d.provider) == (OK, common_pb2.CALENDAR_ACCESS_MODE_READ_WRITE, common_pb2.PROVIDER_GOOGLE)
    assert list(d.sources_used) == [PROVIDER, BOOKINGS, RULES]


async def test_free_busy_microsoft_member_is_read_from_provider_bookings_and_rules(stack):
    answer = await stack.call("GetFreeBusy", pb.GetFreeBusyRequest(org_unit_id=ORG, email=ADELE, window=window("2026-10-05T00:00", "2026-10-06T00:00")))
    d = answer.diagnostics
    assert (d.status, d.access_mode, d.provider) == (OK, common_pb2.CALENDAR_ACCESS_MODE_FREE_BUSY, common_pb2.PROVIDER_MICROSOFT)
    assert list(d.sources_used) == [PROVIDER, BOOKINGS, RULES]
    assert [(a, b) for a, b, *_ in busy(answer)] == [("10-05 16:00", "10-05 17:00"), ("10-05 20:00", "10-05 20:30")]


async def test_no_access_reads_no_provider_only_rules_and_bookings(stack):
    await stack.admin.clear_requests()
    stack.standins.booking.periods.append((PATTI, int(at("2026-10-05T10:00").seconds), int(at("2026-10-05T11:00").seconds), "bk-1"))
    answer = await stack.call("QueryAvailability", query([([PATTI], 0)], "2026-10-05T09:00", "2026-10-05T12:00", duration=60))
    assert periods(answer) == [("10-05 09:00", "10-05 10:00", [PATTI]), ("10-05 11:00", "10-05 12:00", [PATTI])]
    d = diagnostics(answer)[PATTI]
    assert (d.status, d.access_mode, d.provider) == (OK, common_pb2.CALENDAR_ACCESS_MODE_NO_ACCESS, common_pb2.PROVIDER_UNSPECIFIED)
    assert list(d.sources_used) == [BOOKINGS, RULES]
    assert await stack.admin.requests() == []  # not one provider request
    assert stack.standins.identity.token_requests == []


async def test_google_and_microsoft_members_in_one_query(stack):
    await stack.admin.clear_requests()
    answer = await stack.call(
        "QueryAvailability",
        query([([ADA, ALAN, ADELE, MEGAN], 0)], "2026-10-05T15:00", "2026-10-05T19:00", duration=30, fmt=pb.RESPONSE_FORMAT_SLOTS,
              start_interval=minutes(30)),
    )
    assert {d.email: d.status for d in answer.member_diagnostics} == dict.fromkeys([ADA, ADELE, ALAN, MEGAN], OK)
    # Adele is busy 16-17 (UTC) and Megan's daily sync is 15:00-15:15 (08:00 PDT); Ada's stand-up is 08:30-08:45.
    assert periods(answer) == [
        ("10-05 15:30", "10-05 16:00", [ADA, ADELE, ALAN, MEGAN]),
        ("10-05 17:00", "10-05 17:30", [ADA, ADELE, ALAN, MEGAN]),
        ("10-05 17:30", "10-05 18:00", [ADA, ADELE, ALAN, MEGAN]),
        ("10-05 18:00", "10-05 18:30", [ADA, ADELE, ALAN, MEGAN]),
        ("10-05 18:30", "10-05 19:00", [ADA, ADELE, ALAN, MEGAN]),
    ]
    # One batched call per provider, both members in it.
    (google,) = await stack.admin.requests(route="google.freeBusy")
    (graph,) = await stack.admin.requests(route="microsoft.getSchedule")
    assert sorted(i["id"] for i in google["json"]["items"]) == [ADA, ALAN]
    assert sorted(graph["json"]["schedules"]) == [ADELE, MEGAN]


async def test_an_unknown_domain_is_reported_and_an_all_group_with_it_yields_nothing(stack):
    answer = await stack.call("QueryAvailability", query([([ADA, "someone@elsewhere.example"], 0)], "2026-10-05T09:00", "2026-10-05T12:00"))
    assert list(answer.available_periods) == []
    assert diagnostics(answer)["someone@elsewhere.example"].status == res.MemberDiagnostics.STATUS_UNKNOWN_DOMAIN
    assert diagnostics(answer)[ADA].status == OK


async def test_a_mailbox_google_does_not_know_is_an_unknown_account(stack):
    answer = await stack.call("QueryAvailability", query([([ADA, "ghost@northwind.example"], 1)], "2026-10-05T09:00", "2026-10-05T12:00"))
    d = diagnostics(answer)["ghost@northwind.example"]
    assert d.status == res.MemberDiagnostics.STATUS_UNKNOWN_ACCOUNT
    assert [(f.source, f.reason) for f in d.failures] == [(PROVIDER, "MAILBOX_NOT_FOUND")]
    assert all([m.email for m in p.participants] == [ADA] for p in answer.available_periods)


async def test_n_of_m_groups_name_the_members_free_for_each_slot(stack):
    # Alan: bi-weekly research 10-11 London (09-10 UTC) on 15 September; Grace is free; Ada has her stand-up.
    answer = await stack.call(
        "QueryAvailability",
        query([([GRACE], 0), ([ADA, ALAN], 1)], "2026-09-15T08:00", "2026-09-15T10:00", duration=60, fmt=pb.RESPONSE_FORMAT_SLOTS,
              start_interval=minutes(60)),
    )
    assert periods(answer) == [("09-15 08:00", "09-15 09:00", [ADA, ALAN, GRACE]), ("09-15 09:00", "09-15 10:00", [ADA, GRACE])]


# ------------------------------------------------------------------------------ provider faults
async def test_a_429_then_success_is_retried_and_the_member_is_available(stack):
    await stack.admin.add_fault(route="google.freeBusy", kind="status", status=429, retry_after=0, times=1)
    await stack.admin.clear_requests()
    answer = await stack.call("QueryAvailability", query([([ADA], 0)], "2026-10-05T09:00", "2026-10-05T12:00"))
    assert diagnostics(answer)[ADA].status == OK
    assert [r["status"] for r in await stack.admin.requests(route="google.freeBusy")] == [429, 200]
    assert periods(answer)


async def test_a_persistent_5xx_makes_the_members_unavailable_with_the_reason(stack):
    await stack.admin.add_fault(route="microsoft.getSchedule", kind="status", status=503, times=None)
    answer = await stack.call("QueryAvailability", query([([ADA], 0), ([ADELE], 0)], "2026-10-05T09:00", "2026-10-05T12:00"))
    d = diagnostics(answer)[ADELE]
    assert d.status == UNAVAILABLE
    assert [(f.source, f.reason) for f in d.failures] == [(PROVIDER, "PROVIDER_UNAVAILABLE")]
    assert list(answer.available_periods) == []
    assert diagnostics(answer)[ADA].status == OK


async def test_a_provider_that_does_not_answer_in_time_makes_the_members_unavailable(stacks):
    stack = await stacks(provider_timeout_seconds=0.5, provider_max_retries=0)
    await stack.admin.add_fault(route="google.freeBusy", kind="timeout", times=None)
    answer = await stack.call("QueryAvailability", query([([ADA, ALAN], 1), ([ADELE], 0)], "2026-10-05T09:00", "2026-10-05T12:00"))
    for email in (ADA, ALAN):
        d = diagnostics(answer)[email]
        assert d.status == UNAVAILABLE
        assert d.failures[0].reason == "PROVIDER_UNAVAILABLE"
    assert list(answer.available_periods) == []
    assert diagnostics(answer)[ADELE].status == OK


async def test_throttling_beyond_the_retry_budget_is_provider_rate_limited(stacks):
    stack = await stacks(provider_max_retries=1)
    await stack.admin.add_fault(route="microsoft.getSchedule", kind="status", status=429, retry_after=0, times=None)
    answer = await stack.call("GetFreeBusy", pb.GetFreeBusyRequest(org_unit_id=ORG, email=MEGAN, window=window("2026-10-05T00:00", "2026-10-06T00:00")))
    assert answer.diagnostics.status == UNAVAILABLE
    assert [f.reason for f in answer.diagnostics.failures] == ["PROVIDER_RATE_LIMITED"]


async def test_a_credential_identity_refuses_makes_its_members_unavailable(stack):
    from kit.errors import FailedPrecondition

    stack.standins.identity.refuse["cred-ms"] = FailedPrecondition("reauthorize", reason="CREDENTIAL_NEEDS_REAUTHORIZATION")
    answer = await stack.call("QueryAvailability", query([([ALEX], 0)], "2026-10-05T09:00", "2026-10-05T12:00"))
    assert [f.reason for f in diagnostics(answer)[ALEX].failures] == ["CREDENTIAL_NEEDS_REAUTHORIZATION"]


async def test_a_token_revoked_at_the_provider_is_handed_back_to_identity_and_the_member_stays_available(stack):
    request = pb.GetFreeBusyRequest(org_unit_id=ORG, email=ADELE, window=window("2026-10-05T00:00", "2026-10-06T00:00"))
    assert (await stack.call("GetFreeBusy", request)).diagnostics.status == OK
    refused = stack.standins.identity.token("cred-ms")
    assert await stack.admin.revoke_token(refused) == 1  # Microsoft forgets it before it expires
    await stack.admin.clear_requests()
    answer = await stack.call("GetFreeBusy", request)
    assert answer.diagnostics.status == OK
    assert [(a, b) for a, b, *_ in busy(answer)] == [("10-05 16:00", "10-05 17:00"), ("10-05 20:00", "10-05 20:30")]
    assert stack.standins.identity.rejected == [refused]
    assert stack.standins.identity.token("cred-ms") != refused
    assert [r["status"] for r in await stack.admin.requests(route="microsoft.getSchedule")] == [401, 200]


async def test_a_booking_service_outage_makes_everyone_unavailable(stack):
    stack.standins.booking.fail = Unavailable("down", reason="DEPENDENCY_UNAVAILABLE")
    answer = await stack.call("QueryAvailability", query([([ADA], 0)], "2026-10-05T09:00", "2026-10-05T12:00"))
    assert [(f.source, f.reason) for f in diagnostics(answer)[ADA].failures] == [(BOOKINGS, "DEPENDENCY_UNAVAILABLE")]
    assert list(answer.available_periods) == []


# ------------------------------------------------------------------------------ errors
async def test_bad_input_is_invalid_argument_naming_the_field(stack):
    request = query([([ADA], 2)], "2026-10-05T12:00", "2026-10-05T09:00", duration=0)
    call = stack.stub.QueryAvailability(request, metadata=AUTH)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    error, violations = unpack_error(await rpc_status.aio.from_call(call))
    assert error is not None and error.domain == "availability.rendezvous"
    assert error.reason == "REQUIRED_COUNT_INVALID" and error.metadata["field"] == "participant_groups[0].required_count"
    assert {f for f, _ in violations} == {"participant_groups[0].required_count", "query_periods[0].end_time", "duration"}
    assert stack.standins.directory.calls == 0


async def test_an_unknown_unit_is_not_found_as_directory_said(stack):
    request = query([([ADA], 0)], "2026-10-05T09:00", "2026-10-05T12:00")
    request.org_unit_id = "org-nope"
    call = stack.stub.QueryAvailability(request, metadata=AUTH)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    assert info.value.code() is grpc.StatusCode.NOT_FOUND
    error, _ = unpack_error(await rpc_status.aio.from_call(call))
    assert error is not None and error.reason == "ORGANIZATIONAL_UNIT_NOT_FOUND"


async def test_a_users_own_google_credential_reads_colleagues_without_a_subject(stack):
    from rendezvous.identity.v1 import identity_resources_pb2 as identity_res

    from .standins import StandInCredential

    stack.standins.identity.credentials["cred-google"] = StandInCredential(
        common_pb2.PROVIDER_GOOGLE, identity_res.Credential.KIND_USER_DELEGATED, common_pb2.CALENDAR_ACCESS_MODE_READ_WRITE, GRACE
    )
    answer = await stack.call("GetFreeBusy", pb.GetFreeBusyRequest(org_unit_id=ORG, email=ADA, window=window("2026-10-01T00:00", "2026-10-02T00:00")))
    assert answer.diagnostics.status == OK
    assert len(answer.busy_periods) == 2
    assert stack.standins.identity.token_requests == [("cred-google", "")]
