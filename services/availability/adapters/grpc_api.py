"""gRPC edge of the availability service: protobuf in, use cases, protobuf out."""

from __future__ import annotations

import grpc
from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp
from google.type import date_pb2, timeofday_pb2

from kit.convert import to_timestamp
from rendezvous.availability.v1 import availability_resources_pb2 as res
from rendezvous.availability.v1 import availability_service_pb2 as pb
from rendezvous.availability.v1 import availability_service_pb2_grpc as pb_grpc
from rendezvous.common.v1 import common_pb2
from services.availability.domain.model import BusyPeriod, MemberDiagnostics
from services.availability.domain.query import GroupInput, Instant, Length, QueryInput, TimeRangeInput
from services.availability.domain.rules import (
    MINUTES_PER_DAY,
    CivilDate,
    DateOverrideInput,
    LocalTime,
    PeriodInput,
    RulesInput,
    StoredRules,
    WeeklyPeriodInput,
)
from services.availability.usecases import AvailabilityUseCases, RulesUseCases

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["AvailabilityService"].full_name

# Domain enums are numbered like their protobuf counterparts (Source, BusyStatus, MemberDiagnostics.Status,
# CalendarAccessMode, Provider), so ``.value`` is the wire value.


def _time_of_day(message: timeofday_pb2.TimeOfDay, present: bool) -> LocalTime | None:
    return LocalTime(message.hours, message.minutes, message.seconds, message.nanos) if present else None


def rules_input(message: res.AvailabilityRules) -> RulesInput:
    return RulesInput(
        time_zone=message.time_zone,
        weekly_periods=tuple(
            WeeklyPeriodInput(
                int(p.day_of_week),
                _time_of_day(p.start_time, p.HasField("start_time")),
                _time_of_day(p.end_time, p.HasField("end_time")),
            )
            for p in message.weekly_periods
        ),
        date_overrides=tuple(
            DateOverrideInput(
                CivilDate(o.date.year, o.date.month, o.date.day) if o.HasField("date") else None,
                o.unavailable,
                tuple(
                    PeriodInput(
                        _time_of_day(p.start_time, p.HasField("start_time")),
                        _time_of_day(p.end_time, p.HasField("end_time")),
                    )
                    for p in o.periods
                ),
            )
            for o in message.date_overrides
        ),
    )


def _clock(minute: int) -> timeofday_pb2.TimeOfDay:
    if minute >= MINUTES_PER_DAY:
        return timeofday_pb2.TimeOfDay(hours=24)
    return timeofday_pb2.TimeOfDay(hours=minute // 60, minutes=minute % 60)


def rules_to_pb(stored: StoredRules) -> res.AvailabilityRules:
    rules = stored.rules
    return res.AvailabilityRules(
        org_unit_id=stored.org_unit_id,
        email=stored.email,
        time_zone=rules.time_zone,
        weekly_periods=[
            res.WeeklyPeriod(day_of_week=p.day, start_time=_clock(p.start), end_time=_clock(p.end)) for p in rules.weekly
        ],
        date_overrides=[
            res.DateOverride(
                date=date_pb2.Date(year=o.day.year, month=o.day.month, day=o.day.day),
                unavailable=o.unavailable,
                periods=[res.LocalTimePeriod(start_time=_clock(s), end_time=_clock(e)) for s, e in o.periods],
            )
            for o in rules.overrides
        ],
        create_time=to_timestamp(stored.create_time),
        update_time=to_timestamp(stored.update_time),
    )


def _instant(message: Timestamp, present: bool) -> Instant | None:
    return Instant(message.seconds, message.nanos) if present else None


def _length(message: Duration, present: bool) -> Length | None:
    return Length(message.seconds, message.nanos) if present else None


def time_range(message: common_pb2.TimeRange) -> TimeRangeInput:
    return TimeRangeInput(
        _instant(message.start_time, message.HasField("start_time")),
        _instant(message.end_time, message.HasField("end_time")),
    )


def query_input(request: pb.QueryAvailabilityRequest) -> QueryInput:
    return QueryInput(
        groups=tuple(
            GroupInput(tuple(m.email for m in g.members), g.required_count) for g in request.participant_groups
        ),
        periods=tuple(time_range(p) for p in request.query_periods),
        duration=_length(request.duration, request.HasField("duration")),
        buffer_before=_length(request.buffer_before, request.HasField("buffer_before")),
        buffer_after=_length(request.buffer_after, request.HasField("buffer_after")),
        start_interval=_length(request.start_interval, request.HasField("start_interval")),
        response_format=int(request.response_format),
        max_results=request.max_results,
        exclude_booking_ids=tuple(request.exclude_booking_ids),
    )


def diagnostics_to_pb(d: MemberDiagnostics) -> res.MemberDiagnostics:
    return res.MemberDiagnostics(
        email=d.email,
        status=d.status.value,  # type: ignore[arg-type]
        access_mode=d.access_mode.value if d.access_mode else 0,  # type: ignore[arg-type]
        provider=d.provider.value if d.provider else 0,  # type: ignore[arg-type]
        calendar_connection_id=d.connection_id,
        sources_used=[s.value for s in d.sources_used],  # type: ignore[misc]
        failures=[
            res.SourceFailure(source=f.source.value, reason=f.reason, message=f.message)  # type: ignore[arg-type]
            for f in d.failures
        ],
    )


def busy_to_pb(p: BusyPeriod) -> pb.BusyPeriod:
    return pb.BusyPeriod(
        start_time=Timestamp(seconds=p.start),
        end_time=Timestamp(seconds=p.end),
        source=p.source.value,  # type: ignore[arg-type]
        status=p.status.value,  # type: ignore[arg-type]
        booking_id=p.booking_id,
    )


class AvailabilityServicer(pb_grpc.AvailabilityServiceServicer):
    def __init__(self, rules: RulesUseCases, availability: AvailabilityUseCases) -> None:
        self._rules = rules
        self._availability = availability

    async def SetAvailabilityRules(
        self, request: pb.SetAvailabilityRulesRequest, context: grpc.aio.ServicerContext
    ) -> pb.SetAvailabilityRulesResponse:
        raw = rules_input(request.rules) if request.HasField("rules") else None
        stored = await self._rules.set(request.org_unit_id, request.email, raw)
        return pb.SetAvailabilityRulesResponse(rules=rules_to_pb(stored))

    async def GetAvailabilityRules(
        self, request: pb.GetAvailabilityRulesRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetAvailabilityRulesResponse:
        return pb.GetAvailabilityRulesResponse(rules=rules_to_pb(await self._rules.get(request.org_unit_id, request.email)))

    async def DeleteAvailabilityRules(
        self, request: pb.DeleteAvailabilityRulesRequest, context: grpc.aio.ServicerContext
    ) -> pb.DeleteAvailabilityRulesResponse:
        return pb.DeleteAvailabilityRulesResponse(deleted=await self._rules.delete(request.org_unit_id, request.email))

    async def QueryAvailability(
        self, request: pb.QueryAvailabilityRequest, context: grpc.aio.ServicerContext
    ) -> pb.QueryAvailabilityResponse:
        outcome = await self._availability.query(request.org_unit_id, query_input(request))
        members: dict[tuple[str, ...], list[pb.Member]] = {}
        periods = []
        for r in outcome.answer.results:
            who = members.get(r.members)
            if who is None:
                who = members[r.members] = [pb.Member(email=e) for e in r.members]
            periods.append(
                pb.AvailablePeriod(start_time=Timestamp(seconds=r.start), end_time=Timestamp(seconds=r.end), participants=who)
            )
        return pb.QueryAvailabilityResponse(
            available_periods=periods,
            results_truncated=outcome.answer.truncated,
            member_diagnostics=[diagnostics_to_pb(d) for d in outcome.diagnostics],
        )

    async def GetFreeBusy(self, request: pb.GetFreeBusyRequest, context: grpc.aio.ServicerContext) -> pb.GetFreeBusyResponse:
        window = time_range(request.window) if request.HasField("window") else None
        outcome = await self._availability.free_busy(request.org_unit_id, request.email, window)
        return pb.GetFreeBusyResponse(
            busy_periods=[busy_to_pb(p) for p in outcome.periods], diagnostics=diagnostics_to_pb(outcome.diagnostics)
        )
