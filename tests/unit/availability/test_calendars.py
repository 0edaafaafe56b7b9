"""Provider free/busy answers become blocking items: which statuses block, case-insensitively, and
what a per-calendar or whole-call failure becomes (through ``libs/providers`` on a mock transport)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest

from kit.errors import FailedPrecondition, Unavailable
from providers import ProviderEndpoints, ProviderHttp, Providers, RetryPolicy
from services.availability.adapters.calendars import ProviderCalendars
from services.availability.domain.model import (
    MAILBOX_NOT_FOUND,
    BusyStatus,
    MailboxBusy,
    Provider,
    ProviderBusy,
    SourceFailure,
)
from services.availability.ports import TokenRejected

WINDOW = (int(datetime(2026, 10, 5, tzinfo=UTC).timestamp()), int(datetime(2026, 10, 12, tzinfo=UTC).timestamp()))


def at(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


@pytest.fixture
async def make():
    clients: list[ProviderHttp] = []

    def build(handler) -> ProviderCalendars:
        async def no_sleep(_: float) -> None:
            return None

        http = ProviderHttp(transport=httpx.MockTransport(handler), retry=RetryPolicy(max_retries=1), sleep=no_sleep)
        clients.append(http)
        return ProviderCalendars(Providers(http, ProviderEndpoints.sandbox("http://sandbox.test")))

    yield build
    for http in clients:
        await http.aclose()


def graph_item(status: str, start: str, end: str) -> dict:
    return {"status": status, "start": {"dateTime": start, "timeZone": "UTC"}, "end": {"dateTime": end, "timeZone": "UTC"}}


async def test_graph_busy_tentative_oof_block_and_free_working_elsewhere_do_not_whatever_the_case(make):
    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        assert body["schedules"] == ["adele@contoso.example"]
        assert request.url.path.endswith("/users/megan@contoso.example/calendar/getSchedule")
        items = [
            graph_item("Busy", "2026-10-05T16:00:00", "2026-10-05T17:00:00"),
            graph_item("TENTATIVE", "2026-10-05T20:00:00", "2026-10-05T20:30:00"),
            graph_item("free", "2026-10-05T22:00:00", "2026-10-05T23:00:00"),
            graph_item("WorkingElsewhere", "2026-10-06T07:00:00", "2026-10-07T07:00:00"),
            graph_item("oof", "2026-10-09T07:00:00", "2026-10-10T07:00:00"),
            graph_item("unknown", "2026-10-11T07:00:00", "2026-10-11T08:00:00"),
        ]
        return httpx.Response(200, json={"value": [{"scheduleId": "adele@contoso.example", "scheduleItems": items}]})

    got = await make(handler).read(Provider.MICROSOFT, "t", "megan@contoso.example", ["adele@contoso.example"], WINDOW)
    assert got == {
        "adele@contoso.example": MailboxBusy(
            (
                ProviderBusy(at("2026-10-05T16:00"), at("2026-10-05T17:00"), BusyStatus.BUSY),
                ProviderBusy(at("2026-10-05T20:00"), at("2026-10-05T20:30"), BusyStatus.TENTATIVE),
                # An all-day out-of-office item: the whole local day (Pacific) in UTC.
                ProviderBusy(at("2026-10-09T07:00"), at("2026-10-10T07:00"), BusyStatus.OUT_OF_OFFICE),
                ProviderBusy(at("2026-10-11T07:00"), at("2026-10-11T08:00"), BusyStatus.BUSY),
            )
        )
    }


async def test_graph_unknown_recipients_are_mailbox_not_found_and_other_errors_unavailable(make):
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            json={
                "value": [
                    {"scheduleId": "nobody@contoso.example", "error": {"responseCode": "ErrorMailRecipientNotFound", "message": "no"}},
                    {"scheduleId": "slow@contoso.example", "error": {"responseCode": "ErrorTimeoutExpired", "message": "slow"}},
                ]
            },
        )

    got = await make(handler).read(
        Provider.MICROSOFT, "t", "x@contoso.example", ["nobody@contoso.example", "slow@contoso.example"], WINDOW
    )
    assert isinstance(got["nobody@contoso.example"], SourceFailure)
    assert got["nobody@contoso.example"].reason == MAILBOX_NOT_FOUND
    assert got["slow@contoso.example"].reason == "PROVIDER_UNAVAILABLE"


async def test_google_busy_intervals_all_block_and_per_calendar_errors_are_reported(make):
    def handler(request: httpx.Request) -> httpx.Response:
        assert json.loads(request.content)["items"] == [{"id": "ada@northwind.example"}, {"id": "ghost@northwind.example"}]
        return httpx.Response(
            200,
            json={
                "calendars": {
                    "ada@northwind.example": {"busy": [{"start": "2026-10-06T23:00:00Z", "end": "2026-10-07T23:00:00Z"}]},
                    "ghost@northwind.example": {"errors": [{"domain": "global", "reason": "notFound"}], "busy": []},
                }
            },
        )

    got = await make(handler).read(Provider.GOOGLE, "t", "ada@northwind.example", ["ada@northwind.example", "ghost@northwind.example"], WINDOW)
    # An all-day event in Europe/London (BST) as Google reports it: local midnight to midnight.
    assert got["ada@northwind.example"] == MailboxBusy((ProviderBusy(at("2026-10-06T23:00"), at("2026-10-07T23:00")),))
    assert got["ghost@northwind.example"].reason == MAILBOX_NOT_FOUND


async def test_google_throttling_beyond_the_retries_marks_its_calendars_rate_limited(make):
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(429, headers={"Retry-After": "0"}, json={"error": {"code": 429, "message": "slow down"}})

    got = await make(handler).read(Provider.GOOGLE, "t", "ada@northwind.example", ["ada@northwind.example"], WINDOW)
    assert got["ada@northwind.example"].reason == "PROVIDER_RATE_LIMITED"
    assert len(calls) == 2  # the first attempt and one retry


async def test_a_whole_call_refused_or_failing_raises_the_matching_kit_error(make):
    def refused(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"error": {"code": 401, "message": "Invalid Credentials", "errors": [{"reason": "authError"}]}})

    # A refused token is the caller's to renew (TokenRejected), carrying what to report if it cannot.
    with pytest.raises(TokenRejected) as info:
        await make(refused).read(Provider.GOOGLE, "t", "a@x.example", ["a@x.example"], WINDOW)
    error = info.value.error
    assert isinstance(error, FailedPrecondition)
    assert (error.reason, error.metadata["provider"], error.metadata["http_status"]) == (
        "PROVIDER_REJECTED",
        "GOOGLE",
        "401",
    )

    def failing(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, json={"error": {"code": "ServiceUnavailable", "message": "down"}})

    got = await make(failing).read(Provider.MICROSOFT, "t", "a@x.example", ["a@x.example"], WINDOW)
    assert got["a@x.example"].reason == "PROVIDER_UNAVAILABLE"

    def broken(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"not json")

    with pytest.raises(Unavailable):
        await make(broken).read(Provider.MICROSOFT, "t", "a@x.example", ["a@x.example"], WINDOW)


async def test_many_members_are_asked_in_batches_of_50_for_google_and_20_for_microsoft(make):
    asked: list[tuple[str, int]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if "items" in body:
            asked.append(("google", len(body["items"])))
            return httpx.Response(200, json={"calendars": {i["id"]: {"busy": []} for i in body["items"]}})
        asked.append(("microsoft", len(body["schedules"])))
        return httpx.Response(200, json={"value": [{"scheduleId": s, "scheduleItems": []} for s in body["schedules"]]})

    calendars = make(handler)
    google = await calendars.read(Provider.GOOGLE, "t", "u0@x.example", [f"u{i}@x.example" for i in range(60)], WINDOW)
    graph = await calendars.read(Provider.MICROSOFT, "t", "u0@x.example", [f"u{i}@x.example" for i in range(45)], WINDOW)
    assert sorted(asked) == [("google", 10), ("google", 50), ("microsoft", 5), ("microsoft", 20), ("microsoft", 20)]
    assert len(google) == 60 and len(graph) == 45
    assert all(answer == MailboxBusy() for answer in [*google.values(), *graph.values()])
