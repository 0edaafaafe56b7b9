"""ResolveAccount's unit cache on SQLite and PostgreSQL: a held unit answers exactly what the
database answers, every kind of change is seen by the next resolve of this replica, another replica
sees it too, and the cache steps aside when it cannot be sure (listener lost, unit too big, unit
in the middle of changes)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from kit import errors
from kit.pg import asyncpg_dsn
from services.directory.bootstrap import DirectoryApp, bootstrap
from services.directory.domain.model import (
    AccessMode,
    AccountState,
    ConferencingConnection,
    ConferencingService,
    ConnectionState,
    Grant,
    Provider,
    Room,
)
from services.directory.ports import ConferencingLink, StateChange
from services.directory.settings import DirectorySettings
from services.directory.usecases.connections import CALENDAR

from .hand_made import NoIdentity, unit_with_accounts

NOW = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)


Start = Callable[..., Awaitable[DirectoryApp]]


@pytest.fixture
async def start_on() -> AsyncIterator[Callable[..., Awaitable[DirectoryApp]]]:
    """Directory replicas on a database URL (loaded as soon as asked: no quiet time)."""
    apps: list[DirectoryApp] = []

    async def make(database_url: str, **overrides: Any) -> DirectoryApp:
        values = {"routing_cache_quiet_seconds": 0.0, **overrides}
        settings = DirectorySettings(port=0, database_url=database_url, background_enabled=False, access_log=False,
                                     **values)  # fmt: skip
        app = await bootstrap(settings, identity=NoIdentity())  # type: ignore[arg-type]
        await app.server.start()
        apps.append(app)
        return app

    yield make
    for app in apps:
        await app.server.stop(grace=0)


@pytest.fixture
def start(database_url: str, start_on: Callable[..., Awaitable[DirectoryApp]]) -> Start:
    """Replicas on the test's database (SQLite, then PostgreSQL)."""
    return lambda **overrides: start_on(database_url, **overrides)


@pytest.fixture
def start_pg(postgres_url: str, start_on: Callable[..., Awaitable[DirectoryApp]]) -> Start:
    return lambda **overrides: start_on(postgres_url, **overrides)


@pytest.fixture
def start_sqlite(sqlite_url: str, start_on: Callable[..., Awaitable[DirectoryApp]]) -> Start:
    return lambda **overrides: start_on(sqlite_url, **overrides)


async def held(app: DirectoryApp, unit: str, email: str) -> None:
    """Resolve until the unit is answered from memory (the load runs in the background)."""
    for _ in range(300):
        await app.resolve.resolve(unit, email)
        await app.routing.loaded(unit)
        if app.routing.held(unit):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the unit was never loaded into the cache")


async def from_database(app: DirectoryApp, unit: str, email: str) -> Any:
    return await app.routing.from_database(unit, email, email.rsplit("@", 1)[1])


async def from_cache(app: DirectoryApp, unit: str, email: str) -> Any:
    assert app.routing.held(unit)
    return await app.routing.resolve(unit, email, email.rsplit("@", 1)[1])


async def add_room(app: DirectoryApp, unit: str, email: str) -> None:
    async with app.resolve._uow() as uow:
        await uow.rooms.insert_many([Room(f"room-{email}", unit, email, "Board room", 8, "HQ", 2, "", f"x-{email}",
                                          NOW, NOW)])  # fmt: skip
        await uow.commit()


async def add_conferencing(app: DirectoryApp, unit: str, links: dict[str, str]) -> ConferencingConnection:
    connection = ConferencingConnection(
        id=f"zoom-{unit}", org_unit_id=unit, credential_id="cred", authorization_id="", authorization_url="",
        state=ConnectionState.ACTIVE, state_message="", create_time=NOW, update_time=NOW, disconnect_time=None,
        request_id="", revoke_pending=False, service=ConferencingService.ZOOM,
    )  # fmt: skip
    async with app.resolve._uow() as uow:
        await uow.conferencing.add(connection)
        await uow.commit()
    resolved = datetime.now(UTC)  # fresh, so the resolve use case does not ask Zoom again
    async with app.resolve._uow() as uow:
        for email, user in links.items():
            await uow.links.put(ConferencingLink(connection.id, email, user, resolved))
        await uow.commit()
    return connection


EMAILS = ["ada@acme.example", "bo@acme.example", "cy@acme.example", "room@acme.example", "nobody@acme.example",
          "ada@other.example"]  # fmt: skip


async def assert_same(app: DirectoryApp, unit: str, emails: list[str] = EMAILS) -> None:
    for email in emails:
        assert await from_cache(app, unit, email) == await from_database(app, unit, email), email


async def test_a_held_unit_answers_what_the_database_answers(start: Start) -> None:
    app = await start()
    unit, _ = await unit_with_accounts(app, "Acme", "acme.example", ["ada", "bo", "cy"])
    await add_room(app, unit, "room@acme.example")
    await add_conferencing(app, unit, {"ada@acme.example": "zoom-ada", "nobody@acme.example": ""})
    await held(app, unit, "ada@acme.example")
    await assert_same(app, unit)
    answer = await from_cache(app, unit, "ada@acme.example")
    assert answer.account.email == "ada@acme.example" and answer.calendar is not None
    assert [c.service for c in answer.conferencing] == [ConferencingService.ZOOM]
    assert answer.links[f"zoom-{unit}"].external_user_id == "zoom-ada"
    room = await from_cache(app, unit, "room@acme.example")
    assert room.room.calendar_connection_id == room.calendar.id and room.account is None
    # the use case's answer through the cache is the one it gave before the unit was held
    resolved = await app.resolve.resolve(unit, "ada@acme.example")
    assert [(link.connection.id, link.external_user_id) for link in resolved.links] == [(f"zoom-{unit}", "zoom-ada")]


async def test_another_units_email_is_never_answered_from_a_held_unit(start: Start) -> None:
    app = await start()
    acme, _ = await unit_with_accounts(app, "Acme", "acme.example", ["ada"])
    zeta, _ = await unit_with_accounts(app, "Zeta", "zeta.example", ["ada"])
    await held(app, acme, "ada@acme.example")
    await held(app, zeta, "ada@zeta.example")
    assert (await app.resolve.resolve(acme, "ada@zeta.example")).account is None
    assert (await app.resolve.resolve(zeta, "ada@zeta.example")).account.org_unit_id == zeta
    with pytest.raises(errors.NotFound):
        await app.resolve.resolve("no-such-unit", "ada@acme.example")


async def test_every_kind_of_change_is_seen_by_the_next_resolve(start: Start) -> None:
    app = await start()
    unit, calendar = await unit_with_accounts(app, "Acme", "acme.example", ["ada", "bo"])
    await held(app, unit, "ada@acme.example")

    # a new account
    await app.accounts.create(unit, "cy@acme.example", "Cy", "Europe/Paris", "")
    assert (await app.resolve.resolve(unit, "cy@acme.example")).account.time_zone == "Europe/Paris"
    await held(app, unit, "cy@acme.example")

    # a suspension (what sync writes)
    bo = (await app.resolve.resolve(unit, "bo@acme.example")).account
    async with app.resolve._uow() as uow:
        await uow.accounts.change_states([StateChange(bo.id, AccountState.SUSPENDED, NOW)])
        await uow.commit()
    assert (await app.resolve.resolve(unit, "bo@acme.example")).account.state is AccountState.SUSPENDED
    await held(app, unit, "bo@acme.example")

    # a rename: the old email stops resolving, the new one starts
    async with app.resolve._uow() as uow:
        await uow.accounts.update_many([dataclasses.replace(bo, email="robert@acme.example", update_time=NOW)])
        await uow.commit()
    assert (await app.resolve.resolve(unit, "bo@acme.example")).account is None
    assert (await app.resolve.resolve(unit, "robert@acme.example")).account.id == bo.id
    await held(app, unit, "ada@acme.example")

    # a room and a conferencing connection
    await add_room(app, unit, "room@acme.example")
    assert (await app.resolve.resolve(unit, "room@acme.example")).room is not None
    await held(app, unit, "ada@acme.example")
    await add_conferencing(app, unit, {"ada@acme.example": "zoom-ada"})
    assert [link.external_user_id for link in (await app.resolve.resolve(unit, "ada@acme.example")).links] == ["zoom-ada"]
    await held(app, unit, "ada@acme.example")

    # a link stored later is read per call: the unit stays held
    async with app.resolve._uow() as uow:
        await uow.links.put(ConferencingLink(f"zoom-{unit}", "cy@acme.example", "zoom-cy", datetime.now(UTC)))
        await uow.commit()
    assert app.routing.held(unit)
    assert [link.external_user_id for link in (await app.resolve.resolve(unit, "cy@acme.example")).links] == ["zoom-cy"]

    # a disconnect: routing stops at once
    await app.connections.disconnect(CALENDAR, unit, calendar)
    assert (await app.resolve.resolve(unit, "ada@acme.example")).calendar is None
    await held(app, unit, "ada@acme.example")
    await assert_same(app, unit, ["ada@acme.example", "cy@acme.example", "robert@acme.example", "room@acme.example"])

    # the domain served again by a new connection
    again = (await app.connections.connect_calendar(unit, Provider.NONE, AccessMode.NO_ACCESS, ["acme.example"], "",
                                                    Grant.AUTHORIZATION_CODE, "", "")).connection  # fmt: skip
    assert (await app.resolve.resolve(unit, "ada@acme.example")).calendar.id == again.id


async def test_a_disconnect_is_seen_by_resolves_in_flight_on_a_held_unit(start: Start) -> None:
    app = await start()
    unit, calendar = await unit_with_accounts(app, "Acme", "acme.example", ["ada"])
    await held(app, unit, "ada@acme.example")
    stop = asyncio.Event()

    async def keep_busy() -> None:
        while not stop.is_set():
            await app.resolve.resolve(unit, "ada@acme.example")
            await asyncio.sleep(0)

    busy = [asyncio.create_task(keep_busy()) for _ in range(8)]
    try:
        await asyncio.sleep(0.05)
        await app.connections.disconnect(CALENDAR, unit, calendar)
        after = await asyncio.gather(*(app.resolve.resolve(unit, "ada@acme.example") for _ in range(20)))
        assert [a.calendar for a in after] == [None] * 20
    finally:
        stop.set()
        await asyncio.gather(*busy)


async def test_another_replica_sees_a_change_to_a_unit_it_holds(start: Start) -> None:
    writer, reader = await start(), await start()
    unit, calendar = await unit_with_accounts(writer, "Acme", "acme.example", ["ada"])
    await held(reader, unit, "ada@acme.example")
    await writer.connections.disconnect(CALENDAR, unit, calendar)
    seen_after = None
    started = asyncio.get_running_loop().time()
    for _ in range(200):
        if (await reader.resolve.resolve(unit, "ada@acme.example")).calendar is None:
            seen_after = asyncio.get_running_loop().time() - started
            break
        await asyncio.sleep(0.01)
    assert seen_after is not None, "the other replica kept routing to the disconnected connection"
    await held(reader, unit, "ada@acme.example")
    assert (await from_cache(reader, unit, "ada@acme.example")).calendar is None


async def test_a_unit_larger_than_the_cache_is_answered_from_the_database(start: Start) -> None:
    app = await start(routing_cache_entries=3)
    unit, _ = await unit_with_accounts(app, "Acme", "acme.example", ["ada", "bo", "cy"])  # 3 accounts + 1 domain
    for _ in range(5):
        assert (await app.resolve.resolve(unit, "cy@acme.example")).account.email == "cy@acme.example"
        await app.routing.loaded(unit)
        await asyncio.sleep(0.01)
    assert not app.routing.held(unit)


async def test_the_least_recently_used_unit_makes_room(start: Start) -> None:
    app = await start(routing_cache_entries=5)
    acme, _ = await unit_with_accounts(app, "Acme", "acme.example", ["ada", "bo"])  # 3 entries
    zeta, _ = await unit_with_accounts(app, "Zeta", "zeta.example", ["dee"])  # 2 entries
    await held(app, acme, "ada@acme.example")
    await held(app, zeta, "dee@zeta.example")
    assert app.routing.held(acme) and app.routing.held(zeta)
    third, _ = await unit_with_accounts(app, "Third", "third.example", ["eve"])  # 2 more: acme (oldest) goes
    await held(app, third, "eve@third.example")
    assert not app.routing.held(acme) and app.routing.held(zeta)
    assert (await app.resolve.resolve(acme, "bo@acme.example")).account.email == "bo@acme.example"


async def test_a_unit_being_changed_is_read_from_the_database_until_it_is_quiet(start: Start) -> None:
    app = await start(routing_cache_quiet_seconds=0.5)
    unit, _ = await unit_with_accounts(app, "Acme", "acme.example", ["ada"])
    await asyncio.sleep(0.6)
    await held(app, unit, "ada@acme.example")
    await app.accounts.create(unit, "bo@acme.example", "Bo", "", "")
    for _ in range(3):
        assert (await app.resolve.resolve(unit, "bo@acme.example")).account is not None
        await app.routing.loaded(unit)
    assert not app.routing.held(unit)
    await asyncio.sleep(0.6)
    await held(app, unit, "bo@acme.example")


async def test_the_cache_off_answers_the_same(start: Start) -> None:
    app = await start(routing_cache_entries=0)
    unit, calendar = await unit_with_accounts(app, "Acme", "acme.example", ["ada"])
    assert (await app.resolve.resolve(unit, "ada@acme.example")).calendar.id == calendar
    assert not app.routing.held(unit)


async def test_postgresql_losing_the_listener_forgets_every_unit_until_it_is_back(start_pg: Start, postgres_url: str) -> None:
    start, database_url = start_pg, postgres_url
    app, writer = await start(), await start()
    unit, calendar = await unit_with_accounts(app, "Acme", "acme.example", ["ada"])
    await held(app, unit, "ada@acme.example")
    signals = app.routing._signals
    pid = signals._listener.get_server_pid()
    admin = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await admin.close()
    for _ in range(200):
        if signals._listener is None:
            break
        await asyncio.sleep(0.01)
    assert not app.routing.held(unit)
    # while nothing is trusted, another replica's change is seen through the database
    await writer.connections.disconnect(CALENDAR, unit, calendar)
    assert (await app.resolve.resolve(unit, "ada@acme.example")).calendar is None
    await held(app, unit, "ada@acme.example")  # listening again, then loaded again
    assert signals._listener.get_server_pid() != pid
    assert (await from_cache(app, unit, "ada@acme.example")).calendar is None


async def test_sqlite_a_change_through_a_second_process_connection_is_seen_within_the_foreign_window(
    start_sqlite: Start,
) -> None:
    start = start_sqlite
    from services.directory.adapters.routing_cache import FOREIGN_WRITES_SECONDS

    writer, reader = await start(), await start()
    unit, calendar = await unit_with_accounts(writer, "Acme", "acme.example", ["ada"])
    await held(reader, unit, "ada@acme.example")
    await writer.connections.disconnect(CALENDAR, unit, calendar)
    await asyncio.sleep(FOREIGN_WRITES_SECONDS + 0.01)
    assert (await reader.resolve.resolve(unit, "ada@acme.example")).calendar is None



async def test_postgresql_a_database_that_does_not_signal_changes_is_never_cached(start_pg: Start, postgres_url: str) -> None:
    start, database_url = start_pg, postgres_url
    app = await start()
    unit, calendar = await unit_with_accounts(app, "Acme", "acme.example", ["ada"])
    admin = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        await admin.execute("DROP TRIGGER served_domains_routing_changed ON served_domains")
    finally:
        await admin.close()
    fresh = await start()  # checks the triggers when it starts listening
    for _ in range(20):
        await fresh.resolve.resolve(unit, "ada@acme.example")
        await fresh.routing.loaded(unit)
        await asyncio.sleep(0.01)
    assert not fresh.routing.held(unit)
    await app.connections.disconnect(CALENDAR, unit, calendar)  # no notification for the domain's release
    assert (await fresh.resolve.resolve(unit, "ada@acme.example")).calendar is None


async def test_postgresql_a_listener_silent_for_too_long_is_not_trusted_until_it_answers(start_pg: Start) -> None:
    start = start_pg
    from services.directory.adapters.routing_cache import LISTENER_CHECK_SECONDS

    app = await start()
    unit, _ = await unit_with_accounts(app, "Acme", "acme.example", ["ada"])
    await held(app, unit, "ada@acme.example")
    signals = app.routing._signals
    signals._confirmed -= 2 * LISTENER_CHECK_SECONDS + 1  # as if it had not answered for that long
    assert not app.routing.held(unit)  # and the check it started brings it back
    for _ in range(100):
        await asyncio.sleep(0.01)
        if app.routing.held(unit):
            break
    assert app.routing.held(unit)
    assert (await from_cache(app, unit, "ada@acme.example")).account.email == "ada@acme.example"


async def test_postgresql_replicas_stopped_while_they_connect_or_load_leave_no_connection_open(
    start_pg: Start, postgres_url: str
) -> None:
    admin = await asyncpg.connect(asyncpg_dsn(postgres_url))

    async def others() -> int:
        return await admin.fetchval("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                    "AND pid <> pg_backend_pid()")  # fmt: skip

    try:
        setup = await start_pg()
        unit, _ = await unit_with_accounts(setup, "Acme", "acme.example", [f"p{i}" for i in range(300)])
        for delay in (0.0, 0.001, 0.003, 0.01, 0.03):
            app = await start_pg()
            await app.resolve.resolve(unit, "p1@acme.example")  # starts listening
            await asyncio.sleep(delay)
            await app.resolve.resolve(unit, "p2@acme.example")  # and, once listening, loading
            await asyncio.sleep(delay)
            await app.server.stop(grace=0)
        await setup.server.stop(grace=0)
        for _ in range(100):
            if await others() == 0:
                break
            await asyncio.sleep(0.02)
        assert await others() == 0
    finally:
        await admin.close()
