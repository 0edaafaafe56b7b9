"""Sync's bulk account lookups: on a SQLite file they are read straight through sqlite3 (see
``SqliteSyncLookups``) and must answer exactly what the unit of work's own queries answer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from kit.db import create_engine, session_factory
from kit.migrations import upgrade
from services.directory.adapters.sql import DirectoryUnitOfWork
from services.directory.adapters.sql_accounts import SqliteSyncLookups, sqlite_sync_lookups
from services.directory.bootstrap import MIGRATIONS
from services.directory.domain.model import Account, AccountSource, AccountState, OrganizationalUnit

T0 = datetime(2026, 11, 24, 9, 0, 0, 123456, tzinfo=UTC)
EXTERNAL = ["ext-ada", "ext-bo", "ext-gone", "ext-nobody"]
EMAILS = ["ada@acme.example", "bo@acme.example", "cy@acme.example", "nobody@acme.example"]


def account(n: int, email: str, external: str, connection: str, state: AccountState = AccountState.ACTIVE,
            deactivated: datetime | None = None) -> Account:  # fmt: skip
    return Account(f"acc-{n}", "unit-1", email, email.split("@")[0].title(), "Europe/London", state,
                   AccountSource.MICROSOFT_ENTRA, external, connection, T0, T0, deactivated)  # fmt: skip


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[Any]:
    await upgrade(MIGRATIONS, database_url)
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    async with DirectoryUnitOfWork(sessions) as tx:
        await tx.units.add(OrganizationalUnit("unit-1", "Acme", "invites@acme.example", T0, T0))
        await tx.accounts.insert_many([
            account(1, "ada@acme.example", "ext-ada", "dir-1"),
            account(2, "bo@acme.example", "ext-bo", "dir-1", AccountState.SUSPENDED),
            account(3, "gone@acme.example", "ext-gone", "dir-1", AccountState.DEACTIVATED, T0),
            account(4, "cy@acme.example", "ext-ada", "dir-2"),  # the same directory id in another connection
        ])  # fmt: skip
        await tx.commit()
    yield sessions
    await engine.dispose()


async def answers(sessions: Any, lookups: SqliteSyncLookups | None) -> tuple[dict[str, Account], dict[str, Account]]:
    async with DirectoryUnitOfWork(sessions, lookups) as tx:
        return (await tx.accounts.by_external_ids("unit-1", "dir-1", EXTERNAL),
                await tx.accounts.by_emails("unit-1", EMAILS))  # fmt: skip


async def test_direct_lookups_answer_what_the_unit_of_work_answers(sessions, database_url):
    lookups = sqlite_sync_lookups(database_url)
    if database_url.startswith("postgresql"):
        assert lookups is None  # PostgreSQL keeps the unit of work's own queries
        return
    assert lookups is not None
    try:
        direct = await answers(sessions, lookups)
        assert direct == await answers(sessions, None)
    finally:
        lookups.close()
    by_external, by_email = direct
    assert sorted(by_external) == ["ext-ada", "ext-bo", "ext-gone"]
    assert by_external["ext-ada"].id == "acc-1"  # not dir-2's account with the same directory id
    assert (by_external["ext-gone"].state, by_external["ext-gone"].deactivate_time) == (AccountState.DEACTIVATED, T0)
    assert by_external["ext-bo"].state is AccountState.SUSPENDED
    assert sorted(by_email) == ["ada@acme.example", "bo@acme.example", "cy@acme.example"]


async def test_a_database_the_direct_reader_cannot_open_falls_back_to_the_unit_of_work(sessions, database_url, tmp_path):
    if database_url.startswith("postgresql"):
        pytest.skip("direct lookups are for SQLite files")
    unreadable = SqliteSyncLookups(str(tmp_path / "missing" / "nothing.db"))
    assert await answers(sessions, unreadable) == await answers(sessions, None)
