"""Hand-written fakes of the booking service's ports (no I/O), and a ready-made set of use cases."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Self

from kit.clock import FixedClock, SequentialIds
from kit.errors import FailedPrecondition, NotFound, Unavailable
from services.booking.domain.model import (
    AccessMode,
    Booking,
    BookingState,
    CalendarRoute,
    ConferencingService,
    PartyKind,
    Provider,
    overlaps,
)
from services.booking.domain.rules import AttendeeInput, BookingInput
from services.booking.invites.model import OutgoingMessage
from services.booking.ports import (
    Account,
    BusyPeriod,
    BusyTime,
    ConferencingLink,
    Conflict,
    FreeBusy,
    Meeting,
    OrgUnit,
    ProviderEvent,
    ReplyLogEntry,
    RequestIdTaken,
    Resolution,
    Room,
    SlotUnavailable,
    TokenRejected,
    Verification,
)
from services.booking.usecases.change import CancelBooking, UpdateBooking
from services.booking.usecases.common import Deps, RetryPolicy
from services.booking.usecases.create import CreateBooking
from services.booking.usecases.delivery import ProviderWork
from services.booking.usecases.mail import ImipComposer
from services.booking.usecases.queries import BookingQueries
from services.booking.usecases.replies import IngestEmail

NOW = datetime(2026, 10, 1, 8, 0, tzinfo=UTC)
START = datetime(2026, 10, 5, 9, 0, tzinfo=UTC)
END = START + timedelta(minutes=30)
ORG = "org-1"
SENDER = "invites@mail.northwind.example"


# ------------------------------------------------------------------------------------ database


@dataclass
class Store:
    bookings: dict[str, Booking] = field(default_factory=dict)
    outbox: list[tuple[OutgoingMessage, str, bool]] = field(default_factory=list)
    replies: list[ReplyLogEntry] = field(default_factory=list)
    requests: dict[tuple[str, str, str], tuple[str, str]] = field(default_factory=dict)
    leases: dict[tuple[str, str], datetime] = field(default_factory=dict)
    commits: int = 0
    write_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def messages(self, kind: str | None = None) -> list[OutgoingMessage]:
        return [m for m, k, _ in self.outbox if kind is None or k == kind]


class FakeBookings:
    def __init__(self, state: Store) -> None:
        self._s = state

    async def add(self, booking: Booking) -> None:
        if booking.request_id and any(
            b.org_unit_id == booking.org_unit_id and b.request_id == booking.request_id for b in self._s.bookings.values()
        ):
            raise RequestIdTaken()
        self._check(booking)
        self._s.bookings[booking.id] = booking

    async def save(self, booking: Booking) -> None:
        self._check(booking)
        self._s.bookings[booking.id] = booking

    async def save_row(self, booking: Booking) -> None:
        stored = self._s.bookings[booking.id]
        self._s.bookings[booking.id] = replace(
            booking, organizer=stored.organizer, attendees=stored.attendees, rooms=stored.rooms)

    async def save_party(self, booking: Booking, email: str) -> None:
        party = booking.party(email)
        assert party is not None
        self._s.bookings[booking.id] = replace(self._s.bookings[booking.id].with_party(party),
                                               update_time=booking.update_time)

    def _check(self, booking: Booking) -> None:
        if booking.state is not BookingState.CONFIRMED:
            return
        for other in self._s.bookings.values():
            if other.id == booking.id or other.state is not BookingState.CONFIRMED or other.org_unit_id != booking.org_unit_id:
                continue
            shared = set(other.calendar_keys) & set(booking.calendar_keys)
            if shared and overlaps(other.start, other.end, booking.start, booking.end):
                raise SlotUnavailable(sorted(shared), other.id)

    async def get(self, org_unit_id: str, booking_id: str) -> Booking | None:
        b = self._s.bookings.get(booking_id)
        return b if b is not None and b.org_unit_id == org_unit_id else None

    async def by_id(self, booking_id: str) -> Booking | None:
        return self._s.bookings.get(booking_id)

    async def by_request_id(self, org_unit_id: str, request_id: str) -> Booking | None:
        return next((b for b in self._s.bookings.values()
                     if b.org_unit_id == org_unit_id and b.request_id == request_id), None)

    async def by_ical_uid(self, uid: str) -> Booking | None:
        return next((b for b in self._s.bookings.values() if b.delivery.ical_uid == uid), None)

    async def conflicts(self, org_unit_id: str, keys: Sequence[str], start: datetime, end: datetime,
                        exclude: str = "") -> list[Conflict]:
        return [Conflict(k, b.id) for b in self._s.bookings.values() for k in b.calendar_keys
                if k in keys and b.id != exclude and b.state is BookingState.CONFIRMED
                and overlaps(b.start, b.end, start, end)]

    async def search(self, org_unit_id: str, organizer: str, window: tuple[datetime, datetime] | None,
                     state: BookingState | None, after: tuple[str, str] | None, limit: int) -> list[Booking]:
        found = sorted(
            (b for b in self._s.bookings.values()
             if b.org_unit_id == org_unit_id and (not organizer or b.organizer.email == organizer)
             and (window is None or overlaps(b.start, b.end, *window)) and (state is None or b.state is state)),
            key=lambda b: (b.start, b.id),
        )
        if after:
            cursor = (datetime.fromisoformat(after[0]), after[1])
            found = [b for b in found if (b.start, b.id) > cursor]
        return found[:limit]

    async def busy_periods(self, org_unit_id: str, emails: Sequence[str], start: datetime, end: datetime,
                           after: tuple[str, str, str] | None, limit: int) -> list[BusyPeriod]:
        found = []
        for b in self._s.bookings.values():
            if b.org_unit_id != org_unit_id or b.state is not BookingState.CONFIRMED or not overlaps(b.start, b.end, start, end):
                continue
            for p in b.parties:
                if p.email in emails and (p.kind is PartyKind.ORGANIZER or p.response_status.value != "DECLINED"):
                    found.append(BusyPeriod(p.email, b.start, b.end, b.id))
        found.sort(key=lambda p: (p.email, p.start, p.booking_id))
        if after:
            cursor = (after[0], datetime.fromisoformat(after[1]), after[2])
            found = [p for p in found if (p.email, p.start, p.booking_id) > cursor]
        return found[:limit]

    async def lease_due(self, work: str, now: datetime, lease_until: datetime, limit: int) -> list[str]:
        ids = []
        for b in self._s.bookings.values():
            if work == "delivery":
                due = b.delivery.method.value == "PROVIDER_EVENT" and b.delivery.state.value in ("PENDING", "RETRYING") \
                    and b.delivery.next_attempt_time is not None and b.delivery.next_attempt_time <= now
            else:
                due = b.conferencing.state.value == "PENDING" and b.conferencing.next_attempt_time is not None \
                    and b.conferencing.next_attempt_time <= now
            if due and self._s.leases.get((work, b.id), now - timedelta(seconds=1)) < now:
                ids.append(b.id)
        for booking_id in ids[:limit]:
            self._s.leases[(work, booking_id)] = lease_until
        return ids[:limit]

    async def try_lease(self, work: str, booking_id: str, now: datetime, lease_until: datetime) -> bool:
        if self._s.leases.get((work, booking_id), now - timedelta(seconds=1)) >= now:
            return False
        self._s.leases[(work, booking_id)] = lease_until
        return True

    async def release(self, work: str, booking_id: str) -> None:
        self._s.leases.pop((work, booking_id), None)


class FakeOutbox:
    def __init__(self, state: Store) -> None:
        self._s = state

    async def add(self, messages: Sequence[OutgoingMessage], now: datetime, *, kind: str, counts: bool) -> None:
        self._s.outbox.extend((m, kind, counts) for m in messages)


class FakeReplies:
    def __init__(self, state: Store) -> None:
        self._s = state

    async def add(self, entry: ReplyLogEntry) -> None:
        self._s.replies.append(entry)


class FakeRequests:
    def __init__(self, state: Store) -> None:
        self._s = state

    async def get(self, org_unit_id: str, rpc: str, request_id: str) -> tuple[str, str] | None:
        return self._s.requests.get((org_unit_id, rpc, request_id))

    async def add(self, org_unit_id: str, rpc: str, request_id: str, digest: str, booking_id: str, now: datetime) -> None:
        self._s.requests[(org_unit_id, rpc, request_id)] = (digest, booking_id)


class FakeUnitOfWork:
    """Works on a copy of the store; commit swaps it in (so an uncommitted unit of work writes nothing)."""

    def __init__(self, store: Store, write: bool) -> None:
        self._store = store
        self._write = write

    async def __aenter__(self) -> Self:
        if self._write:
            await self._store.write_lock.acquire()
        lock = self._store.write_lock
        self._store.write_lock = None  # type: ignore[assignment]
        self._work = copy.deepcopy(self._store)
        self._store.write_lock = lock
        self._work.write_lock = lock
        self.bookings = FakeBookings(self._work)
        self.outbox = FakeOutbox(self._work)
        self.replies = FakeReplies(self._work)
        self.requests = FakeRequests(self._work)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._write:
            self._store.write_lock.release()

    async def commit(self) -> None:
        for name in ("bookings", "outbox", "replies", "requests", "leases"):
            setattr(self._store, name, getattr(self._work, name))
        self._store.commits += 1


# ---------------------------------------------------------------------------------------- peers


@dataclass
class Person:
    email: str
    name: str = ""
    time_zone: str = "Europe/London"
    route: CalendarRoute | None = None
    links: tuple[ConferencingLink, ...] = ()
    verified: bool = True
    busy: tuple[BusyTime, ...] = ()
    unreadable: bool = False


GOOGLE_RW = CalendarRoute(AccessMode.READ_WRITE, Provider.GOOGLE, "cal-g", "cred-g")
MICROSOFT_RW = CalendarRoute(AccessMode.READ_WRITE, Provider.MICROSOFT, "cal-m", "cred-m")
FREE_BUSY = CalendarRoute(AccessMode.FREE_BUSY, Provider.MICROSOFT, "cal-fb", "cred-fb")
NO_ACCESS = CalendarRoute(AccessMode.NO_ACCESS, Provider.UNSPECIFIED, "cal-na", "")
ZOOM = ConferencingLink("conf-zoom", ConferencingService.ZOOM, "cred-zoom", "zoom-user-1")
WEBEX = ConferencingLink("conf-webex", ConferencingService.WEBEX, "cred-webex", "webex-person-1")


class FakePeers:
    """Identity, directory and availability in one: people, rooms, busy time; records calls."""

    def __init__(self) -> None:
        self.units = {ORG: OrgUnit(ORG, "Northwind", SENDER)}
        self.people: dict[str, Person] = {}
        self.rooms: dict[str, Room] = {}
        self.calls: list[tuple[str, str]] = []
        self.tokens_failing = False
        self.rejected: list[str] = []  # rejected_access_token hints; each one changes the token handed out
        self.directory_down = False

    def add(self, person: Person) -> Person:
        self.people[person.email] = person
        return person

    async def verify_organizer(self, org_unit_id: str, email: str) -> Verification:
        self.calls.append(("verify", email))
        person = self.people.get(email)
        if person is None or not person.verified:
            return Verification(False, "EMAIL_NOT_CONFIRMED")
        return Verification(True, method="DIRECTORY")

    async def access_token(self, org_unit_id: str, credential_id: str, subject: str = "", rejected: str = "") -> str:
        self.calls.append(("token", credential_id))
        if self.tokens_failing:
            raise Unavailable("identity is down", reason="DEPENDENCY_UNAVAILABLE")
        if rejected:
            self.rejected.append(rejected)
        return f"token-{credential_id}" + (f"-{len(self.rejected)}" if self.rejected else "")

    async def get_unit(self, org_unit_id: str) -> OrgUnit:
        self.calls.append(("unit", org_unit_id))
        if self.directory_down:
            raise Unavailable("directory is down", reason="DEPENDENCY_UNAVAILABLE")
        unit = self.units.get(org_unit_id)
        if unit is None:
            raise NotFound("no such unit", reason="ORGANIZATIONAL_UNIT_NOT_FOUND")
        return unit

    async def resolve(self, org_unit_id: str, email: str) -> Resolution:
        self.calls.append(("resolve", email))
        if email in self.rooms:
            return Resolution(room=self.rooms[email])
        person = self.people.get(email)
        if person is None:
            return Resolution()
        account = Account(email, person.name, person.time_zone, f"ext-{email}")
        return Resolution(account, person.route, person.route is not None, "ACTIVE", person.links)

    async def free_busy(self, org_unit_id: str, email: str, start: datetime, end: datetime) -> FreeBusy:
        self.calls.append(("free_busy", email))
        person = self.people.get(email)
        if person is not None and person.unreadable:
            return FreeBusy(email, known=False, reason="PROVIDER_UNAVAILABLE")
        busy = person.busy if person else ()
        return FreeBusy(email, tuple(b for b in busy if overlaps(b.start, b.end, start, end)))


class FakeEvents:
    """A calendar provider: events by id, failures on demand (``fail`` = list of errors to raise next)."""

    def __init__(self) -> None:
        self.events: dict[str, dict[str, Any]] = {}
        self.fail: list[Exception] = []
        self.calls: list[tuple[str, str]] = []
        self.tokens: list[str] = []  # the token each create was given
        self.meet_pending = False

    def _maybe_fail(self) -> None:
        if self.fail:
            raise self.fail.pop(0)

    async def create(self, booking: Booking, token: str) -> ProviderEvent:
        self.calls.append(("create", booking.id))
        self.tokens.append(token)
        self._maybe_fail()
        event_id = f"ev-{booking.id}"
        self.events[event_id] = {"summary": booking.summary, "start": booking.start, "deleted": False,
                                 "rooms": [r.email for r in booking.rooms]}
        native = booking.conferencing.native
        link = "" if not native or self.meet_pending else f"https://meet.example/{booking.id}"
        return ProviderEvent(event_id, f"{event_id}@google.com", link, conference_pending=native and self.meet_pending)

    async def update(self, booking: Booking, token: str) -> ProviderEvent:
        self.calls.append(("update", booking.id))
        self._maybe_fail()
        event = self.events[booking.delivery.provider_event_id]
        event.update(summary=booking.summary, start=booking.start)
        return ProviderEvent(booking.delivery.provider_event_id, booking.delivery.ical_uid, booking.conferencing.join_url)

    async def delete(self, booking: Booking, token: str) -> None:
        self.calls.append(("delete", booking.id))
        self._maybe_fail()
        if booking.delivery.provider_event_id in self.events:
            self.events[booking.delivery.provider_event_id]["deleted"] = True

    async def get(self, booking: Booking, token: str) -> ProviderEvent:
        self.calls.append(("get", booking.id))
        self._maybe_fail()
        link = "" if self.meet_pending else f"https://meet.example/{booking.id}"
        return ProviderEvent(booking.delivery.provider_event_id, booking.delivery.ical_uid, link,
                             conference_pending=self.meet_pending)


class FakeMeetings:
    """A conferencing service: meetings by id with the start and title they were last given;
    ``fail`` = errors to raise on the next calls; ``gone`` = ids the service no longer knows."""

    def __init__(self) -> None:
        self.created: list[tuple[str, ConferencingService]] = []
        self.deleted: list[str] = []
        self.updates: list[str] = []
        self.meetings: dict[str, tuple[datetime, str]] = {}
        self.gone: set[str] = set()
        self.fail: list[Exception] = []
        self.during_update: Callable[[], Awaitable[None]] | None = None  # runs once, inside the next update

    async def create(self, booking: Booking, token: str) -> Meeting:
        if self.fail:
            raise self.fail.pop(0)
        n = len(self.created) + 1
        self.created.append((booking.id, booking.conferencing.service))
        self.meetings[f"m{n}"] = (booking.start, booking.summary)
        return Meeting(booking.conferencing.service, f"m{n}", f"https://{booking.conferencing.service.value.lower()}.example/j/{n}",
                       "4242")

    async def update(self, booking: Booking, token: str) -> Meeting | None:
        conf = booking.conferencing
        self.updates.append(conf.meeting_id)
        during, self.during_update = self.during_update, None
        if during is not None:
            await during()
        if self.fail:
            raise self.fail.pop(0)
        if conf.meeting_id in self.gone:
            return None
        self.meetings[conf.meeting_id] = (booking.start, booking.summary)
        return Meeting(conf.service, conf.meeting_id, conf.join_url, conf.passcode)

    async def delete(self, booking: Booking, token: str) -> None:
        self.deleted.append(booking.conferencing.meeting_id)


def provider_down() -> Unavailable:
    return Unavailable("google failed: 503", reason="PROVIDER_UNAVAILABLE")


def token_refused() -> TokenRejected:
    return TokenRejected("microsoft refused the access token: 401", reason="PROVIDER_UNAVAILABLE")


def provider_refuses() -> FailedPrecondition:
    return FailedPrecondition("google refused: 403", reason="PROVIDER_REJECTED")


# ------------------------------------------------------------------------------------ the world


class World:
    """The use cases over fakes, with people ready: ada (Google RW), megan (Microsoft RW), frank
    (FREE_BUSY with Zoom), nora (NO_ACCESS with Webex and Zoom), rooms orion and vega."""

    def __init__(self) -> None:
        self.clock = FixedClock(NOW)
        self.store = Store()
        self.peers = FakePeers()
        self.events = FakeEvents()
        self.meetings = FakeMeetings()
        self.slept: list[float] = []
        self.woken = 0
        self.peers.add(Person("ada@northwind.example", "Ada Lovelace", route=GOOGLE_RW))
        self.peers.add(Person("megan@contoso.example", "Megan Bowen", route=MICROSOFT_RW))
        self.peers.add(Person("frank@fabrikam.example", "Frank Fisher", route=FREE_BUSY, links=(ZOOM,)))
        self.peers.add(Person("nora@noaccess.example", "Nora North", route=NO_ACCESS, links=(WEBEX, ZOOM)))
        self.peers.rooms["room-orion@northwind.example"] = Room("room-orion@northwind.example", "Orion")
        self.peers.rooms["room-vega@northwind.example"] = Room("room-vega@northwind.example", "Vega")

        async def sleep(seconds: float) -> None:
            self.slept.append(seconds)

        def woken() -> None:
            self.woken += 1

        def unit_of_work(*, write: bool = False) -> FakeUnitOfWork:
            return FakeUnitOfWork(self.store, write)

        self.deps = Deps(
            uow=unit_of_work,  # type: ignore[arg-type]
            identity=self.peers, directory=self.peers, availability=self.peers,
            events=self.events, meetings=self.meetings, composer=ImipComposer(SequentialIds("msg")),
            clock=self.clock, ids=SequentialIds("bk"), policy=RetryPolicy(base_seconds=10, cap_seconds=60),
            sleep=sleep, mail_queued=woken,
        )
        self.work = ProviderWork(self.deps)
        self.create = CreateBooking(self.deps, self.work)
        self.update = UpdateBooking(self.deps, self.work)
        self.cancel = CancelBooking(self.deps, self.work)
        self.queries = BookingQueries(self.deps)
        self.ingest = IngestEmail(self.deps)

    def later(self, seconds: float) -> None:
        self.clock.advance(timedelta(seconds=seconds))


def a_request(organizer: str = "frank@fabrikam.example", **changes: Any) -> BookingInput:
    request = BookingInput(
        org_unit_id=ORG,
        organizer_email=organizer,
        start=START,
        end=END,
        summary="Quarterly planning",
        attendees=(AttendeeInput("bob@example.org", "Bob Brown"), AttendeeInput("carol@example.org", "Carol", True)),
        description="Agenda: numbers",
        location="Main office",
    )
    return replace(request, **changes)
