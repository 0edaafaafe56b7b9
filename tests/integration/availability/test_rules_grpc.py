"""Availability rules through gRPC on a real database (SQLite and PostgreSQL), and their effect on
queries of a NO_ACCESS member (rules and bookings only)."""

from __future__ import annotations

import grpc
import pytest
from google.type import date_pb2, dayofweek_pb2, timeofday_pb2
from grpc_status import rpc_status

from kit.grpc_errors import unpack_error
from rendezvous.availability.v1 import availability_resources_pb2 as res
from rendezvous.availability.v1 import availability_service_pb2 as pb

from .conftest import AUTH
from .standins import ORG
from .test_query_grpc import PATTI, at, periods, query

ADA = "ada@northwind.example"


def clock(h: int, m: int = 0) -> timeofday_pb2.TimeOfDay:
    return timeofday_pb2.TimeOfDay(hours=h, minutes=m)


def weekdays(zone: str, start: int, end: int, **extra) -> res.AvailabilityRules:
    return res.AvailabilityRules(
        time_zone=zone,
        weekly_periods=[
            res.WeeklyPeriod(day_of_week=d, start_time=clock(start), end_time=clock(end))
            for d in (dayofweek_pb2.MONDAY, dayofweek_pb2.TUESDAY, dayofweek_pb2.WEDNESDAY, dayofweek_pb2.THURSDAY, dayofweek_pb2.FRIDAY)
        ],
        **extra,
    )


async def refused(stack, method: str, request) -> tuple[grpc.StatusCode, str, set[str]]:
    call = getattr(stack.stub, method)(request, metadata=AUTH)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    error, violations = unpack_error(await rpc_status.aio.from_call(call))
    assert error is not None
    return info.value.code(), error.reason, {f for f, _ in violations}


async def test_rules_are_stored_read_replaced_and_deleted(stacks, database_url):
    stack = await stacks(database_url)
    day_off = res.DateOverride(date=date_pb2.Date(year=2026, month=12, day=24), unavailable=True)
    short_day = res.DateOverride(
        date=date_pb2.Date(year=2026, month=12, day=23), periods=[res.LocalTimePeriod(start_time=clock(9), end_time=clock(12))]
    )
    rules = weekdays("Europe/London", 9, 24, date_overrides=[day_off, short_day])
    stored = (await stack.call("SetAvailabilityRules", pb.SetAvailabilityRulesRequest(org_unit_id=ORG, email="Ada@Northwind.example", rules=rules))).rules
    assert (stored.org_unit_id, stored.email, stored.time_zone) == (ORG, ADA, "Europe/London")
    assert stored.weekly_periods[0].end_time == clock(24)
    assert [o.date.day for o in stored.date_overrides] == [23, 24]  # canonical order
    got = (await stack.call("GetAvailabilityRules", pb.GetAvailabilityRulesRequest(org_unit_id=ORG, email=ADA))).rules
    assert got == stored

    replaced = (
        await stack.call("SetAvailabilityRules", pb.SetAvailabilityRulesRequest(org_unit_id=ORG, email=ADA, rules=res.AvailabilityRules(time_zone="UTC")))
    ).rules
    assert list(replaced.weekly_periods) == [] and replaced.create_time == stored.create_time
    assert replaced.update_time.ToNanoseconds() >= stored.update_time.ToNanoseconds()

    deleted = await stack.call("DeleteAvailabilityRules", pb.DeleteAvailabilityRulesRequest(org_unit_id=ORG, email=ADA))
    again = await stack.call("DeleteAvailabilityRules", pb.DeleteAvailabilityRulesRequest(org_unit_id=ORG, email=ADA))
    assert (deleted.deleted, again.deleted) == (True, False)
    code, reason, _ = await refused(stack, "GetAvailabilityRules", pb.GetAvailabilityRulesRequest(org_unit_id=ORG, email=ADA))
    assert (code, reason) == (grpc.StatusCode.NOT_FOUND, "AVAILABILITY_RULES_NOT_FOUND")


async def test_bad_rules_are_invalid_argument_naming_the_fields_and_nothing_is_written(stacks, database_url):
    stack = await stacks(database_url)
    rules = res.AvailabilityRules(
        time_zone="Mars/Olympus",
        weekly_periods=[res.WeeklyPeriod(day_of_week=dayofweek_pb2.MONDAY, start_time=clock(10), end_time=clock(9))],
    )
    code, reason, fields = await refused(stack, "SetAvailabilityRules", pb.SetAvailabilityRulesRequest(org_unit_id=ORG, email=ADA, rules=rules))
    assert (code, reason) == (grpc.StatusCode.INVALID_ARGUMENT, "TIME_ZONE_UNKNOWN")
    assert fields == {"rules.time_zone", "rules.weekly_periods[0].end_time"}
    code, reason, _ = await refused(stack, "GetAvailabilityRules", pb.GetAvailabilityRulesRequest(org_unit_id=ORG, email=ADA))
    assert reason == "AVAILABILITY_RULES_NOT_FOUND"


async def test_rules_for_a_domain_no_connection_serves_are_failed_precondition(stacks, database_url):
    stack = await stacks(database_url)
    request = pb.SetAvailabilityRulesRequest(org_unit_id=ORG, email="x@elsewhere.example", rules=res.AvailabilityRules(time_zone="UTC"))
    code, reason, _ = await refused(stack, "SetAvailabilityRules", request)
    assert (code, reason) == (grpc.StatusCode.FAILED_PRECONDITION, "EMAIL_DOMAIN_NOT_SERVED")


async def test_a_no_access_members_rules_and_bookings_decide_their_slots_across_the_dst_change(stacks, database_url):
    stack = await stacks(database_url)
    rules = weekdays("America/New_York", 9, 11)
    await stack.call("SetAvailabilityRules", pb.SetAvailabilityRulesRequest(org_unit_id=ORG, email=PATTI, rules=rules))
    stack.standins.booking.periods.append((PATTI, at("2026-03-09T13:00").seconds, at("2026-03-09T14:00").seconds, "bk-1"))
    answer = await stack.call(
        "QueryAvailability",
        query([([PATTI], 0)], "2026-03-06T00:00", "2026-03-10T00:00", duration=60, fmt=pb.RESPONSE_FORMAT_SLOTS),
    )
    # 9-11 New York is 14-16 UTC before 8 March and 13-15 UTC after; Monday's first hour is booked.
    assert periods(answer) == [
        ("03-06 14:00", "03-06 15:00", [PATTI]),
        ("03-06 15:00", "03-06 16:00", [PATTI]),
        ("03-09 14:00", "03-09 15:00", [PATTI]),
    ]
    free_busy = await stack.call(
        "GetFreeBusy", pb.GetFreeBusyRequest(org_unit_id=ORG, email=PATTI, window=query([([PATTI], 0)], "2026-03-09T12:00", "2026-03-09T16:00").query_periods[0])
    )
    assert [(p.source, p.booking_id) for p in free_busy.busy_periods] == [
        (res.SOURCE_AVAILABILITY_RULES, ""),
        (res.SOURCE_BOOKINGS, "bk-1"),
        (res.SOURCE_AVAILABILITY_RULES, ""),
    ]
