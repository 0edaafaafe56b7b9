"""Reading QueryAvailability and GetFreeBusy requests: limits, defaults and field-naming errors.

The limits are documented in ``protos/rendezvous/availability/v1/availability_service.proto``; the
constants below are the same numbers and must stay in step with those comments.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from kit.validation import MAX_EMAIL_LENGTH, is_email, normalize_email
from services.availability.domain.checks import Checks
from services.availability.domain.engine import Group, Query, ResponseFormat

MINUTE = 60
DAY = 86400
MAX_GROUPS = 10
MAX_PARTICIPANTS = 50
MAX_QUERY_PERIODS = 20
MAX_SPAN = 42 * DAY
MAX_SPAN_TEXT = "1008h"
MAX_DURATION = DAY
MAX_BUFFER = DAY
DEFAULT_START_INTERVAL = 15 * MINUTE
MAX_START_INTERVAL = DAY
DEFAULT_MAX_RESULTS = 256
MAX_MAX_RESULTS = 512
MAX_EXCLUDED_BOOKINGS = 10


class Instant(NamedTuple):
    """A ``google.protobuf.Timestamp`` as received."""

    seconds: int
    nanos: int = 0


class Length(NamedTuple):
    """A ``google.protobuf.Duration`` as received."""

    seconds: int
    nanos: int = 0


@dataclass(frozen=True)
class TimeRangeInput:
    start: Instant | None
    end: Instant | None


@dataclass(frozen=True)
class GroupInput:
    emails: tuple[str, ...]
    required_count: int = 0


@dataclass(frozen=True)
class QueryInput:
    groups: tuple[GroupInput, ...]
    periods: tuple[TimeRangeInput, ...]
    duration: Length | None
    buffer_before: Length | None = None
    buffer_after: Length | None = None
    start_interval: Length | None = None
    response_format: int = 0
    max_results: int = 0
    exclude_booking_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class ParsedQuery:
    query: Query
    groups: tuple[Group, ...]
    emails: tuple[str, ...]
    exclude_booking_ids: frozenset[str]


def parse_query(raw: QueryInput) -> ParsedQuery:
    """The validated query; INVALID_ARGUMENT naming every bad field otherwise."""
    checks = Checks()
    groups = _groups(checks, raw.groups)
    emails = sorted(set().union(*(g.members for g in groups))) if groups else []
    periods = _periods(checks, raw.periods)
    duration = _length(checks, "duration", raw.duration, MINUTE, MAX_DURATION, "DURATION_INVALID", required=True)
    before = _length(checks, "buffer_before", raw.buffer_before, 0, MAX_BUFFER, "BUFFER_INVALID")
    after = _length(checks, "buffer_after", raw.buffer_after, 0, MAX_BUFFER, "BUFFER_INVALID")
    interval = _length(
        checks, "start_interval", raw.start_interval, MINUTE, MAX_START_INTERVAL, "START_INTERVAL_INVALID"
    )
    checks.check(raw.response_format in (0, 1, 2, 3), "response_format", "must be PERIODS, SLOTS or OVERLAPPING_SLOTS")
    checks.check(
        0 <= raw.max_results <= MAX_MAX_RESULTS, "max_results", f"must be 0 (= {DEFAULT_MAX_RESULTS}) to {MAX_MAX_RESULTS}"
    )
    checks.check(
        len(raw.exclude_booking_ids) <= MAX_EXCLUDED_BOOKINGS,
        "exclude_booking_ids",
        f"must name at most {MAX_EXCLUDED_BOOKINGS} bookings",
    )
    checks.raise_if_any()
    assert duration is not None
    query = Query(
        periods=tuple(periods),
        duration=duration,
        buffer_before=before or 0,
        buffer_after=after or 0,
        start_interval=interval or DEFAULT_START_INTERVAL,
        response_format=ResponseFormat(raw.response_format or 1),
        max_results=raw.max_results or DEFAULT_MAX_RESULTS,
    )
    return ParsedQuery(query, tuple(groups), tuple(emails), frozenset(raw.exclude_booking_ids))


def parse_window(raw: TimeRangeInput | None, field: str = "window") -> tuple[int, int]:
    """A validated ``[start, end)`` in epoch seconds of at most 42 days."""
    checks = Checks()
    found = _range(checks, field, raw)
    if found is not None:
        checks.check(
            found[1] - found[0] <= MAX_SPAN,
            field,
            "must span at most 42 days",
            "TIME_RANGE_TOO_LONG",
            max_duration=MAX_SPAN_TEXT,
        )
    checks.raise_if_any()
    assert found is not None
    return found


def parse_email(value: str, field: str = "email") -> str:
    """A normalized email; INVALID_ARGUMENT naming ``field`` otherwise."""
    checks = Checks()
    email = check_email(checks, field, value)
    checks.raise_if_any()
    return email


def check_email(checks: Checks, field: str, value: str) -> str:
    email = normalize_email(value)
    if not email:
        checks.add(field, "is required")
    elif len(email) > MAX_EMAIL_LENGTH or not is_email(email):
        checks.add(field, "must be an email address of at most 320 characters")
    return email


def _groups(checks: Checks, raw: tuple[GroupInput, ...]) -> list[Group]:
    if not raw:
        checks.add("participant_groups", "needs at least one group")
        return []
    if len(raw) > MAX_GROUPS:
        checks.add(
            "participant_groups",
            f"must have at most {MAX_GROUPS} groups",
            "TOO_MANY_PARTICIPANT_GROUPS",
            max=str(MAX_GROUPS),
        )
        return []
    groups: list[Group] = []
    for i, group in enumerate(raw):
        where = f"participant_groups[{i}]"
        if not group.emails:
            checks.add(f"{where}.members", "needs at least one member")
            continue
        members = frozenset(check_email(checks, f"{where}.members[{j}].email", e) for j, e in enumerate(group.emails))
        if not 0 <= group.required_count <= len(members):
            checks.add(
                f"{where}.required_count",
                f"must be 0 (all) or 1 to the group's {len(members)} distinct members",
                "REQUIRED_COUNT_INVALID",
            )
            continue
        groups.append(Group(members, group.required_count))
    distinct = set().union(*(g.members for g in groups)) if groups else set()
    if len(distinct) > MAX_PARTICIPANTS:
        checks.add(
            "participant_groups",
            f"must name at most {MAX_PARTICIPANTS} distinct members (found {len(distinct)})",
            "TOO_MANY_PARTICIPANTS",
            max=str(MAX_PARTICIPANTS),
        )
    return groups


def _periods(checks: Checks, raw: tuple[TimeRangeInput, ...]) -> list[tuple[int, int]]:
    if not raw:
        checks.add("query_periods", "needs at least one period")
        return []
    if len(raw) > MAX_QUERY_PERIODS:
        checks.add(
            "query_periods",
            f"must have at most {MAX_QUERY_PERIODS} periods",
            "TOO_MANY_QUERY_PERIODS",
            max=str(MAX_QUERY_PERIODS),
        )
        return []
    periods = [p for i, r in enumerate(raw) if (p := _range(checks, f"query_periods[{i}]", r)) is not None]
    if len(periods) == len(raw):
        span = max(e for _, e in periods) - min(s for s, _ in periods)
        checks.check(
            span <= MAX_SPAN,
            "query_periods",
            "must lie within 42 days from the earliest start to the latest end",
            "TIME_RANGE_TOO_LONG",
            max_duration=MAX_SPAN_TEXT,
        )
    return periods


def _range(checks: Checks, field: str, raw: TimeRangeInput | None) -> tuple[int, int] | None:
    if raw is None:
        checks.add(field, "is required")
        return None
    start_ok = checks.check(raw.start is not None, f"{field}.start_time", "is required")
    end_ok = checks.check(raw.end is not None, f"{field}.end_time", "is required")
    if not (start_ok and end_ok):
        return None
    assert raw.start is not None and raw.end is not None
    # Sub-second parts round inwards, so results stay inside the range.
    start = raw.start.seconds + (1 if raw.start.nanos > 0 else 0)
    end = raw.end.seconds
    if end <= start:
        checks.add(f"{field}.end_time", "must be after start_time", "TIME_RANGE_INVALID")
        return None
    return start, end


def _length(
    checks: Checks,
    field: str,
    raw: Length | None,
    minimum: int,
    maximum: int,
    reason: str,
    *,
    required: bool = False,
) -> int | None:
    if raw is None:
        if required:
            checks.add(field, "is required", reason)
        return None
    if raw.nanos or raw.seconds % MINUTE:
        checks.add(field, "must be a whole number of minutes", reason)
        return None
    if not minimum <= raw.seconds <= maximum:
        checks.add(field, f"must be {_text(minimum)} to {_text(maximum)}", reason)
        return None
    return raw.seconds


def _text(seconds: int) -> str:
    if seconds and seconds % 3600 == 0:
        return f"{seconds // 3600} hours" if seconds != 3600 else "1 hour"
    minutes = seconds // MINUTE
    return "1 minute" if minutes == 1 else f"{minutes} minutes"
