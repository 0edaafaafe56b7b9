"""Provider free/busy through ``libs/providers``: Google ``freeBusy.query`` and Graph ``getSchedule``.

What blocks, by provider:

* Google answers busy intervals only: ``freeBusy.query`` already leaves out free (transparent),
  cancelled, declined and working-location events and counts tentative and out-of-office ones, with
  all-day events spanning whole days of the calendar's time zone. Every interval is BUSY.
* Graph answers schedule items with a status, spelt in any case: ``busy``, ``tentative`` and ``oof``
  block (BUSY, TENTATIVE, OUT_OF_OFFICE), ``free`` and ``workingElsewhere`` do not, and ``unknown`` is
  taken as BUSY (never assume free). Cancelled items are not returned. All-day items come as midnight
  to midnight of the mailbox's zone, asked in UTC.

Batching and windows are the client's: at most 50 calendars per freeBusy call, 20 schedules and
windows under 62 days per getSchedule call, calls sent concurrently. A calendar the provider does not
know is MAILBOX_NOT_FOUND; any other per-calendar error makes that member's free/busy unknown.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from kit.errors import FailedPrecondition, RendezvousError, Unavailable
from providers import (
    ProviderAuthError,
    ProviderError,
    ProviderRateLimited,
    ProviderResponseError,
    Providers,
    ProviderUnavailable,
)
from providers.google.calendar import CalendarFreeBusy as GoogleAnswer
from providers.microsoft.calendar import ScheduleResult, ScheduleStatus
from services.availability.domain.model import (
    MAILBOX_NOT_FOUND,
    BusyStatus,
    MailboxBusy,
    Provider,
    ProviderBusy,
    Source,
    SourceFailure,
)
from services.availability.ports import TokenRejected

GRAPH_BLOCKING = {
    ScheduleStatus.BUSY: BusyStatus.BUSY,
    ScheduleStatus.TENTATIVE: BusyStatus.TENTATIVE,
    ScheduleStatus.OOF: BusyStatus.OUT_OF_OFFICE,
    ScheduleStatus.UNKNOWN: BusyStatus.BUSY,
}
GOOGLE_NOT_FOUND = frozenset({"notFound"})
GRAPH_NOT_FOUND = frozenset({"ErrorMailRecipientNotFound", "ErrorInvalidUser", "ErrorItemNotFound"})
_TRANSPORT_REASONS = {"providerRateLimited": "PROVIDER_RATE_LIMITED", "providerUnavailable": "PROVIDER_UNAVAILABLE"}
_RATE_LIMITED = frozenset({"rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded", "ErrorServerBusy"})
_REFUSED = frozenset({"forbidden", "ErrorAccessDenied"})


class ProviderCalendars:
    """``CalendarFreeBusy`` over the shared provider clients."""

    def __init__(self, providers: Providers) -> None:
        self._providers = providers

    async def read(
        self, provider: Provider, token: str, mailbox: str, emails: Sequence[str], window: tuple[int, int]
    ) -> dict[str, MailboxBusy | SourceFailure]:
        start, end = (datetime.fromtimestamp(t, UTC) for t in window)
        try:
            if provider is Provider.GOOGLE:
                google = await self._providers.google.calendar.free_busy(token, emails, start, end)
                return {e: google_answer(google[e]) for e in emails if e in google}
            graph = await self._providers.microsoft.calendar.get_schedule(token, mailbox, emails, start, end)
            return {e: graph_answer(graph[e]) for e in emails if e in graph}
        except ProviderAuthError as exc:
            raise TokenRejected(provider_error(exc)) from exc
        except ProviderError as exc:
            raise provider_error(exc) from exc


def google_answer(answer: GoogleAnswer) -> MailboxBusy | SourceFailure:
    if answer.errors:
        first = answer.errors[0]
        return _failure(first.reason, f"Google: {first.reason}" + (f" ({first.domain})" if first.domain else ""), GOOGLE_NOT_FOUND)
    return MailboxBusy(tuple(ProviderBusy(_seconds(i.start), _ceil_seconds(i.end)) for i in answer.busy))


def graph_answer(answer: ScheduleResult) -> MailboxBusy | SourceFailure:
    if answer.error is not None:
        message = f"Microsoft: {answer.error.code}" + (f": {answer.error.message}" if answer.error.message else "")
        return _failure(answer.error.code, message, GRAPH_NOT_FOUND)
    return MailboxBusy(
        tuple(
            ProviderBusy(_seconds(item.start), _ceil_seconds(item.end), GRAPH_BLOCKING[item.status])
            for item in answer.items
            if item.status in GRAPH_BLOCKING
        )
    )


def _failure(code: str, message: str, not_found: frozenset[str]) -> SourceFailure:
    if code in not_found:
        reason = MAILBOX_NOT_FOUND
    elif code in _TRANSPORT_REASONS:
        reason = _TRANSPORT_REASONS[code]
    elif code in _RATE_LIMITED:
        reason = "PROVIDER_RATE_LIMITED"
    elif code in _REFUSED:
        reason = "PROVIDER_REJECTED"
    else:
        reason = "PROVIDER_UNAVAILABLE"
    return SourceFailure(Source.PROVIDER_FREE_BUSY, reason, message[:300])


def provider_error(exc: ProviderError) -> RendezvousError:
    """The kit error for a whole provider call that failed (after the client's retries)."""
    metadata = {"provider": exc.provider.upper()}
    if exc.status is not None:
        metadata["http_status"] = str(exc.status)
    if isinstance(exc, ProviderRateLimited):
        if exc.retry_after is not None:
            metadata["retry_after_seconds"] = str(int(exc.retry_after))
        return Unavailable(str(exc), reason="PROVIDER_RATE_LIMITED", metadata=metadata)
    if isinstance(exc, ProviderUnavailable | ProviderResponseError):
        return Unavailable(str(exc), reason="PROVIDER_UNAVAILABLE", metadata=metadata)
    if exc.provider_code:
        metadata["provider_error"] = exc.provider_code
    return FailedPrecondition(str(exc), reason="PROVIDER_REJECTED", metadata=metadata)


def _seconds(moment: datetime) -> int:
    return int(moment.timestamp() // 1)


def _ceil_seconds(moment: datetime) -> int:
    value = moment.timestamp()
    whole = int(value // 1)
    return whole if whole == value else whole + 1
