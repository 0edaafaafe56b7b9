"""The stored answers of conferencing lookups (ResolveAccount's links) under concurrent resolves."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from kit.db import create_engine, session_factory
from kit.migrations import upgrade
from services.directory.adapters.sql import DirectoryUnitOfWork
from services.directory.bootstrap import MIGRATIONS
from services.directory.domain.model import (
    ConferencingConnection,
    ConferencingService,
    ConnectionState,
    OrganizationalUnit,
)
from services.directory.ports import ConferencingLink

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


@pytest.fixture
async def uow(database_url: str) -> AsyncIterator[type[DirectoryUnitOfWork]]:
    await upgrade(MIGRATIONS, database_url)
    engine = create_engine(database_url)
    sessions = session_factory(engine)

    def make() -> DirectoryUnitOfWork:
        return DirectoryUnitOfWork(sessions)

    async with make() as tx:
        await tx.units.add(OrganizationalUnit("unit-1", "Acme", "invites@acme.example", T0, T0))
        await tx.conferencing.add(ConferencingConnection(
            id="zoom-1", org_unit_id="unit-1", credential_id="cred-1", authorization_id="", authorization_url="",
            state=ConnectionState.ACTIVE, state_message="", create_time=T0, update_time=T0, disconnect_time=None,
            request_id="", revoke_pending=False, service=ConferencingService.ZOOM))  # fmt: skip
        await tx.commit()
    yield make  # type: ignore[misc]
    await engine.dispose()


async def test_two_resolves_storing_the_same_link_at_once_both_succeed_and_the_later_answer_stays(uow):
    first = ConferencingLink("zoom-1", "adele@contoso.example", "zoom-user-a", T0)
    second = ConferencingLink("zoom-1", "adele@contoso.example", "zoom-user-b", T0.replace(minute=1))
    async with uow() as a:
        await a.links.put(first)  # A's row is written but not committed yet

        async def b() -> None:
            async with uow() as tx:
                await tx.links.put(second)
                await tx.commit()

        later = asyncio.create_task(b())
        await asyncio.sleep(0.2)  # B is now waiting on A's row (PostgreSQL) or A's write lock (SQLite)
        await a.commit()
    await later
    async with uow() as tx:
        stored = await tx.links.get(["zoom-1"], "adele@contoso.example")
    assert stored["zoom-1"].external_user_id == "zoom-user-b"


async def test_storing_a_link_again_replaces_the_answer(uow):
    async with uow() as tx:
        await tx.links.put(ConferencingLink("zoom-1", "lee@contoso.example", "", T0))
        await tx.commit()
    async with uow() as tx:
        await tx.links.put(ConferencingLink("zoom-1", "lee@contoso.example", "zoom-user-lee", T0.replace(hour=10)))
        await tx.commit()
    async with uow() as tx:
        stored = (await tx.links.get(["zoom-1"], "lee@contoso.example"))["zoom-1"]
    assert (stored.external_user_id, stored.resolve_time) == ("zoom-user-lee", T0.replace(hour=10))
