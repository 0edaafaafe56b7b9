"""SQL repositories and the unit of work of the booking service (PostgreSQL and SQLite).

No two overlapping CONFIRMED slots of one organizer or room: on PostgreSQL the exclusion constraint
``ex_booking_slots_no_overlap`` refuses the second (concurrent transactions wait for each other on
it); on SQLite every write transaction starts with ``BEGIN IMMEDIATE`` (one writer at a time), so
the overlap query before the insert sees every committed slot and nobody can slip in between.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from types import TracebackType
from typing import Any

from sqlalchemy import and_, bindparam, delete, event, func, insert, or_, select, text, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from kit.db import SqlUnitOfWork, constraint_name
from services.booking.adapters import rows
from services.booking.adapters.tables import (
    SLOT_EXCLUSION,
    booking_parties,
    booking_slots,
    bookings,
    outbox_messages,
    reply_log,
    request_log,
)
from services.booking.domain.model import Booking, BookingState, PartyKind
from services.booking.invites.model import OutgoingMessage
from services.booking.ports import (
    Bookings,
    BusyPeriod,
    Conflict,
    Outbox,
    ReplyLog,
    ReplyLogEntry,
    RequestIdTaken,
    RequestLog,
    SlotUnavailable,
)

CONFIRMED = BookingState.CONFIRMED.value
WRITE_OPTION = "rendezvous_booking_write"
#: One cached statement for rewriting a booking row (bound parameters, no per-call compilation).
_UPDATE_BOOKING = (
    update(bookings)
    .where(bookings.c.id == bindparam("b_id"))
    .values({c.name: bindparam(f"v_{c.name}") for c in bookings.columns
             if c.name not in ("id", "dlv_pending") and not c.name.endswith("lease_until")})
)


def serialize_sqlite_writes(engine: AsyncEngine) -> None:
    """SQLite: our own BEGIN — ``BEGIN IMMEDIATE`` for write units of work, plain BEGIN otherwise.

    (The driver's implicit BEGIN is switched off, as SQLAlchemy documents for aiosqlite.)
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _no_driver_begin(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(connection: Any) -> None:
        immediate = connection.get_execution_options().get(WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class Core:
    """Core statements straight on the session's connection: the ORM's execution layer costs CPU on
    every statement and these repositories use none of it."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def execute(self, statement: Any, params: Any = None) -> Any:
        connection = await self._session.connection()
        if params is None:
            return await connection.execute(statement)
        return await connection.execute(statement, params)


#: A transaction-scoped advisory lock per (unit, calendar key), taken in the order of the lock ids so
#: that transactions locking several calendars (organizer and rooms) cannot deadlock each other.
_LOCK_CALENDARS = text(
    "SELECT pg_advisory_xact_lock(h) FROM "
    "(SELECT DISTINCT hashtextextended(k, 0) AS h FROM unnest(CAST(:keys AS text[])) AS k ORDER BY h) AS locks"
)


class SqlBookings:
    def __init__(self, session: Core, *, postgres: bool, lock: bool) -> None:
        self._s = session
        self._postgres = postgres
        self._lock = lock and postgres  # SQLite write transactions are exclusive already

    # ------------------------------------------------------------------------------ writing

    async def add(self, booking: Booking) -> None:
        try:
            await self._s.execute(insert(bookings), [rows.booking_values(booking)])
        except IntegrityError as error:
            if "request_id" in constraint_name(error):
                raise RequestIdTaken() from error
            raise
        await self._s.execute(insert(booking_parties), rows.parties_values(booking))
        await self._write_slots(booking, replace=False)

    async def save(self, booking: Booking) -> None:
        await self.save_row(booking)
        await self._s.execute(delete(booking_parties).where(booking_parties.c.booking_id == booking.id))
        await self._s.execute(insert(booking_parties), rows.parties_values(booking))
        await self._write_slots(booking, replace=True)

    async def save_row(self, booking: Booking) -> None:
        values = {f"v_{k}": v for k, v in rows.booking_values(booking).items() if k != "id"}
        await self._s.execute(_UPDATE_BOOKING, [{"b_id": booking.id, **values}])

    async def save_party(self, booking: Booking, email: str) -> None:
        party = booking.party(email)
        assert party is not None
        position = booking.parties.index(party)
        values = rows.party_values(booking.id, position, party)
        await self._s.execute(
            update(booking_parties)
            .where(booking_parties.c.booking_id == booking.id, booking_parties.c.email == party.email)
            .values(**values)
        )
        await self._s.execute(
            update(bookings).where(bookings.c.id == booking.id).values(update_time=rows.utc(booking.update_time))
        )

    async def _write_slots(self, booking: Booking, *, replace: bool) -> None:
        """SQLite: look for overlaps first (nobody else writes meanwhile). PostgreSQL: the exclusion
        constraint refuses the statement; the conflicting booking is looked up by the caller.

        On PostgreSQL the transaction first takes a lock per calendar (``_LOCK_CALENDARS``): two
        transactions inserting overlapping slots at the same moment would otherwise each wait for
        the other's uncommitted row in the exclusion check — a deadlock PostgreSQL breaks by
        failing one of them with an error that is not the constraint's. Held in one order, the
        locks make the second wait for the first to end, then meet the constraint (or a free slot)."""
        keys = booking.calendar_keys
        slot_rows = [
            {"booking_id": booking.id, "calendar_key": key, "org_unit_id": booking.org_unit_id,
             "start_time": rows.utc(booking.start), "end_time": rows.utc(booking.end), "state": booking.state.value}
            for key in keys
        ]
        if booking.state is BookingState.CONFIRMED and not self._postgres:
            found = await self.conflicts(booking.org_unit_id, keys, booking.start, booking.end, exclude=booking.id)
            if found:
                raise SlotUnavailable(sorted({c.calendar_key for c in found}), found[0].booking_id)
        if booking.state is BookingState.CONFIRMED and self._postgres:
            await self._s.execute(_LOCK_CALENDARS, {"keys": [f"{booking.org_unit_id}/{key}" for key in keys]})
        try:
            if replace:
                await self._s.execute(delete(booking_slots).where(booking_slots.c.booking_id == booking.id))
            await self._s.execute(insert(booking_slots), slot_rows)
        except IntegrityError as error:
            if constraint_name(error) != SLOT_EXCLUSION:
                raise
            raise SlotUnavailable(keys) from error

    # ------------------------------------------------------------------------------ reading

    async def _load(self, where: Any, *, limit: int | None = None, order: Sequence[Any] = ()) -> list[Booking]:
        query = select(bookings).where(where)
        if order:
            query = query.order_by(*order)
        if limit is not None:
            query = query.limit(limit)
        if self._lock:
            query = query.with_for_update()
        found = (await self._s.execute(query)).all()
        if not found:
            return []
        ids = [r.id for r in found]
        party_rows = (
            await self._s.execute(
                select(booking_parties)
                .where(booking_parties.c.booking_id.in_(ids))
                .order_by(booking_parties.c.booking_id, booking_parties.c.position)
            )
        ).all()
        parties: dict[str, list[Any]] = {}
        for p in party_rows:
            parties.setdefault(p.booking_id, []).append(rows.party(p))
        return [rows.booking(r, parties.get(r.id, [])) for r in found]

    async def get(self, org_unit_id: str, booking_id: str) -> Booking | None:
        found = await self._load(and_(bookings.c.id == booking_id, bookings.c.org_unit_id == org_unit_id))
        return found[0] if found else None

    async def by_id(self, booking_id: str) -> Booking | None:
        found = await self._load(bookings.c.id == booking_id)
        return found[0] if found else None

    async def by_request_id(self, org_unit_id: str, request_id: str) -> Booking | None:
        found = await self._load(and_(bookings.c.org_unit_id == org_unit_id, bookings.c.request_id == request_id))
        return found[0] if found else None

    async def by_ical_uid(self, uid: str) -> Booking | None:
        found = await self._load(bookings.c.dlv_ical_uid == uid, limit=1)
        return found[0] if found else None

    async def conflicts(
        self, org_unit_id: str, keys: Sequence[str], start: datetime, end: datetime, exclude: str = ""
    ) -> list[Conflict]:
        s = booking_slots.c
        query = select(s.calendar_key, s.booking_id).where(
            s.org_unit_id == org_unit_id, s.calendar_key.in_(list(keys)), s.state == CONFIRMED,
            s.start_time < rows.utc(end), s.end_time > rows.utc(start), s.booking_id != exclude,
        ).order_by(s.start_time)
        return [Conflict(r.calendar_key, r.booking_id) for r in (await self._s.execute(query)).all()]

    async def search(
        self, org_unit_id: str, organizer: str, window: tuple[datetime, datetime] | None,
        state: BookingState | None, after: tuple[str, str] | None, limit: int,
    ) -> list[Booking]:
        b = bookings.c
        where = [b.org_unit_id == org_unit_id]
        if organizer:
            where.append(b.organizer_email == organizer)
        if window:
            where += [b.start_time < rows.utc(window[1]), b.end_time > rows.utc(window[0])]
        if state:
            where.append(b.state == state.value)
        if after:
            where.append(tuple_(b.start_time, b.id) > tuple_(rows.utc(datetime.fromisoformat(after[0])), after[1]))
        return await self._load(and_(*where), limit=limit, order=(b.start_time, b.id))

    async def busy_periods(
        self, org_unit_id: str, emails: Sequence[str], start: datetime, end: datetime,
        after: tuple[str, str, str] | None, limit: int,
    ) -> list[BusyPeriod]:
        b, p = bookings.c, booking_parties.c
        where = [
            b.org_unit_id == org_unit_id, b.state == CONFIRMED, p.email.in_(list(emails)),
            or_(p.response_status != "DECLINED", p.kind == PartyKind.ORGANIZER.value),
            b.start_time < rows.utc(end), b.end_time > rows.utc(start),
        ]
        if after:
            where.append(
                tuple_(p.email, b.start_time, b.id) > tuple_(after[0], rows.utc(datetime.fromisoformat(after[1])), after[2])
            )
        query = (
            select(p.email, b.start_time, b.end_time, b.id)
            .select_from(booking_parties.join(bookings, bookings.c.id == p.booking_id))
            .where(*where)
            .order_by(p.email, b.start_time, b.id)
            .limit(limit)
        )
        return [
            BusyPeriod(r.email, rows.must_utc(r.start_time), rows.must_utc(r.end_time), r.id)
            for r in (await self._s.execute(query)).all()
        ]

    # ------------------------------------------------------------------------------ leasing

    def _work_columns(self, work: str) -> tuple[Any, Any, Any]:
        b = bookings.c
        if work == "delivery":
            due = and_(b.dlv_method == "PROVIDER_EVENT", b.dlv_state.in_(["PENDING", "RETRYING"]))
            return due, b.dlv_next_attempt_time, b.dlv_lease_until
        return b.conf_state == "PENDING", b.conf_next_attempt_time, b.conf_lease_until

    async def lease_due(self, work: str, now: datetime, lease_until: datetime, limit: int) -> list[str]:
        due, next_at, lease = self._work_columns(work)
        now_utc = rows.utc(now)
        query = (
            select(bookings.c.id)
            .where(due, next_at.is_not(None), next_at <= now_utc, or_(lease.is_(None), lease < now_utc))
            .order_by(next_at)
            .limit(limit)
        )
        if self._postgres:
            query = query.with_for_update(skip_locked=True)
        ids = [r.id for r in (await self._s.execute(query)).all()]
        if ids:
            await self._s.execute(update(bookings).where(bookings.c.id.in_(ids)).values({lease: rows.utc(lease_until)}))
        return ids

    async def try_lease(self, work: str, booking_id: str, now: datetime, lease_until: datetime) -> bool:
        _, _, lease = self._work_columns(work)
        now_utc = rows.utc(now)
        result = await self._s.execute(
            update(bookings)
            .where(bookings.c.id == booking_id, or_(lease.is_(None), lease < now_utc))
            .values({lease: rows.utc(lease_until)})
        )
        return bool(getattr(result, "rowcount", 0) == 1)

    async def release(self, work: str, booking_id: str) -> None:
        _, _, lease = self._work_columns(work)
        await self._s.execute(update(bookings).where(bookings.c.id == booking_id).values({lease: None}))


class SqlOutbox:
    def __init__(self, session: Core) -> None:
        self._s = session

    async def add(self, messages: Sequence[OutgoingMessage], now: datetime, *, kind: str, counts: bool) -> None:
        if not messages:
            return
        at = rows.utc(now)
        await self._s.execute(insert(outbox_messages), [
            {"message_id": m.message_id, "booking_id": m.booking_id, "recipient": m.recipient, "sender": m.sender,
             "method": m.method.value, "kind": kind, "sequence": m.sequence, "counts": counts, "raw": m.raw,
             "create_time": at, "next_attempt_at": at, "lease_until": None, "attempts": 0, "last_error": "",
             "sent_at": None, "failed_at": None}
            for m in messages
        ])
        if counts:  # the booking's latest version waits for these too (see outbox_sql)
            o = outbox_messages.c
            for booking_id, sequence in sorted({(m.booking_id, m.sequence) for m in messages}):
                outstanding = select(func.count()).where(
                    o.booking_id == booking_id, o.sequence == sequence, o.counts.is_(True),
                    o.sent_at.is_(None), o.failed_at.is_(None),
                ).scalar_subquery()
                await self._s.execute(
                    update(bookings).where(bookings.c.id == booking_id).values(dlv_pending=outstanding))


class SqlReplyLog:
    def __init__(self, session: Core) -> None:
        self._s = session

    async def add(self, entry: ReplyLogEntry) -> None:
        await self._s.execute(insert(reply_log).values(
            received_at=rows.utc(entry.received_at), source=entry.source, outcome=entry.outcome,
            reason=entry.reason, method=entry.method[:16], booking_id=entry.booking_id[:64],
            attendee_email=entry.attendee_email[:320], detail=entry.detail[:512], size=entry.size, digest=entry.digest,
        ))


class SqlRequestLog:
    def __init__(self, session: Core) -> None:
        self._s = session

    async def get(self, org_unit_id: str, rpc: str, request_id: str) -> tuple[str, str] | None:
        r = request_log.c
        row = (await self._s.execute(
            select(r.digest, r.booking_id).where(r.org_unit_id == org_unit_id, r.rpc == rpc, r.request_id == request_id)
        )).first()
        return (row.digest, row.booking_id) if row else None

    async def add(self, org_unit_id: str, rpc: str, request_id: str, digest: str, booking_id: str, now: datetime) -> None:
        await self._s.execute(insert(request_log).values(
            org_unit_id=org_unit_id, rpc=rpc, request_id=request_id, digest=digest, booking_id=booking_id,
            create_time=rows.utc(now),
        ))


class BookingUnitOfWork(SqlUnitOfWork):
    """A transaction over the booking repositories. ``write=True``: SQLite ``BEGIN IMMEDIATE``;
    PostgreSQL rows read through ``bookings`` are locked (``FOR UPDATE``) until commit."""

    bookings: Bookings
    outbox: Outbox
    replies: ReplyLog
    requests: RequestLog

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, postgres: bool, write: bool = False) -> None:
        super().__init__(sessions)
        self._postgres = postgres
        self._write = write

    async def __aenter__(self) -> BookingUnitOfWork:
        await super().__aenter__()
        if self._write and not self._postgres:
            await self.session.connection(execution_options={WRITE_OPTION: True})
        elif not self._write and self._postgres:
            # Reads need no transaction: each statement sees committed data (saves BEGIN/ROLLBACK).
            await self.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc_val: BaseException | None, tb: TracebackType | None
    ) -> None:
        await super().__aexit__(exc_type, exc_val, tb)

    def _open(self, session: AsyncSession) -> None:
        core = Core(session)
        self.bookings = SqlBookings(core, postgres=self._postgres, lock=self._write)
        self.outbox = SqlOutbox(core)
        self.replies = SqlReplyLog(core)
        self.requests = SqlRequestLog(core)

    def _integrity_error(self, error: IntegrityError) -> Exception:
        name = constraint_name(error)
        if name == SLOT_EXCLUSION:
            return SlotUnavailable()
        if "request_id" in name:
            return RequestIdTaken()
        return super()._integrity_error(error)
