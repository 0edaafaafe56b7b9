"""ResolveAccount's read of the routing rows under concurrent calls, on SQLite and PostgreSQL: each
call gets its own unit's answer, a failing call fails alone, and a disconnect is seen at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from services.directory.bootstrap import DirectoryApp, bootstrap
from services.directory.settings import DirectorySettings
from services.directory.usecases.connections import CALENDAR

from .hand_made import NoIdentity, unit_with_accounts


@pytest.fixture
async def app(database_url: str) -> AsyncIterator[DirectoryApp]:
    settings = DirectorySettings(port=0, database_url=database_url, background_enabled=False, access_log=False)
    directory = await bootstrap(settings, identity=NoIdentity())  # type: ignore[arg-type]
    await directory.server.start()  # stopping it closes what the reads hold
    yield directory
    await directory.server.stop(grace=0)


async def test_concurrent_resolves_each_get_their_own_unit_account_and_route(app):
    acme, acme_calendar = await unit_with_accounts(app, "Acme", "acme.example", ["ada", "bo", "cy"])
    zeta, zeta_calendar = await unit_with_accounts(app, "Zeta", "zeta.example", ["ada", "dee"])
    asks = [(acme, "ada@acme.example"), (zeta, "ada@zeta.example"), (acme, "cy@acme.example"),
            (zeta, "nobody@zeta.example"), (acme, "ada@zeta.example"), (zeta, "dee@zeta.example"),
            (acme, "bo@acme.example"), (acme, "ada@acme.example")] * 5  # fmt: skip
    answers = await asyncio.gather(*(app.resolve.resolve(unit, email) for unit, email in asks))
    for (unit, email), answer in zip(asks, answers, strict=True):
        alone = await app.resolve.resolve(unit, email)
        assert answer == alone
        served = email.endswith("@acme.example") if unit == acme else email.endswith("@zeta.example")
        assert (answer.account.email if answer.account else None) == (email if served and "nobody" not in email else None)
        if answer.account is not None:
            assert answer.account.org_unit_id == unit
        assert (answer.calendar.id if answer.calendar else None) == (
            (acme_calendar if unit == acme else zeta_calendar) if served else None
        )


async def test_an_unknown_unit_fails_alone_among_concurrent_resolves(app):
    acme, _ = await unit_with_accounts(app, "Acme", "acme.example", ["ada"])
    outcomes = await asyncio.gather(
        *(app.resolve.resolve(unit, "ada@acme.example") for unit in [acme, "no-such-unit", acme, acme]),
        return_exceptions=True,
    )
    assert [type(o).__name__ for o in outcomes] == ["Resolved", "NotFound", "Resolved", "Resolved"]


async def test_a_resolve_made_after_a_disconnect_never_routes_to_it_while_others_are_in_flight(app):
    acme, calendar = await unit_with_accounts(app, "Acme", "acme.example", ["ada"])
    stop = asyncio.Event()

    async def keep_busy() -> None:  # resolves in flight all along
        while not stop.is_set():
            await app.resolve.resolve(acme, "ada@acme.example")
            await asyncio.sleep(0)  # a SQLite read never suspends: let the test itself run

    busy = [asyncio.create_task(keep_busy()) for _ in range(8)]
    try:
        await asyncio.sleep(0.05)
        assert (await app.resolve.resolve(acme, "ada@acme.example")).calendar is not None
        await app.connections.disconnect(CALENDAR, acme, calendar)
        after = await asyncio.gather(*(app.resolve.resolve(acme, "ada@acme.example") for _ in range(20)))
        assert [a.calendar for a in after] == [None] * 20
    finally:
        stop.set()
        await asyncio.gather(*busy)
