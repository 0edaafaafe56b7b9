"""The kit's unit of work on SQLite and PostgreSQL: rolls back unless committed, maps constraint errors."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import Column, Integer, String, Table, insert, select

from kit.db import SqlUnitOfWork, create_engine, make_metadata, session_factory
from kit.errors import AlreadyExists

metadata = make_metadata()
things = Table("things", metadata, Column("id", Integer, primary_key=True), Column("name", String(20), unique=True))


@pytest.fixture
async def sessions(database_url):
    engine = create_engine(database_url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield session_factory(engine)
    await engine.dispose()


async def _names(sessions) -> list[str]:
    async with sessions() as s:
        return list((await s.scalars(select(things.c.name).order_by(things.c.id))).all())


async def test_leaving_without_commit_rolls_back(sessions):
    async with SqlUnitOfWork(sessions) as uow:
        await uow.session.execute(insert(things).values(id=1, name="kept?"))
    assert await _names(sessions) == []


async def test_an_error_inside_rolls_back_what_was_written(sessions):
    with pytest.raises(RuntimeError):
        async with SqlUnitOfWork(sessions) as uow:
            await uow.session.execute(insert(things).values(id=1, name="a"))
            raise RuntimeError("boom")
    assert await _names(sessions) == []


async def test_commit_keeps_the_writes(sessions):
    async with SqlUnitOfWork(sessions) as uow:
        await uow.session.execute(insert(things).values(id=1, name="a"))
        await uow.commit()
    assert await _names(sessions) == ["a"]


async def test_a_unique_violation_becomes_already_exists_naming_the_constraint(sessions):
    async with SqlUnitOfWork(sessions) as uow:
        await uow.session.execute(insert(things).values(id=1, name="a"))
        await uow.commit()
    with pytest.raises(AlreadyExists) as info:
        async with SqlUnitOfWork(sessions) as uow:
            await uow.session.execute(insert(things).values(id=2, name="a"))
    assert "uq_things_name" in info.value.message
    assert await _names(sessions) == ["a"]


# ------------------------------------------------------------- PostgreSQL: checking idle pooled connections


async def _backend_pid(engine) -> int:
    async with engine.connect() as conn:
        return int((await conn.exec_driver_sql("SELECT pg_backend_pid()")).scalar_one())


async def test_a_pooled_connection_dropped_while_idle_is_replaced_before_a_unit_of_work_uses_it(postgres_url, monkeypatch):
    from kit import db

    monkeypatch.setattr(db, "PING_IDLE_SECONDS", 0.05)
    engine = create_engine(postgres_url)
    other = create_engine(postgres_url, pool_pre_ping=False)
    try:
        first = await _backend_pid(engine)  # pooled, now idle
        async with other.connect() as conn:  # the server (or a proxy) drops it
            assert (await conn.exec_driver_sql(f"SELECT pg_terminate_backend({first})")).scalar_one() is True
        await asyncio.sleep(0.1)  # idle longer than the window: checked when taken
        assert await _backend_pid(engine) != first  # a fresh connection did the work; nothing failed
    finally:
        await engine.dispose()
        await other.dispose()


async def test_a_connection_used_within_the_window_is_taken_without_a_check(postgres_url, monkeypatch):
    from kit import db

    monkeypatch.setattr(db, "PING_IDLE_SECONDS", 60.0)
    engine = create_engine(postgres_url)
    pings: list[object] = []
    monkeypatch.setattr(engine.sync_engine.dialect, "do_ping", lambda connection: pings.append(connection) or True)
    try:
        pid = await _backend_pid(engine)
        for _ in range(5):
            assert await _backend_pid(engine) == pid
        assert pings == []
        monkeypatch.setattr(db, "PING_IDLE_SECONDS", 0.0)  # now every connection counts as idle
        await _backend_pid(engine)
        assert len(pings) == 1
    finally:
        await engine.dispose()


async def test_a_deadlock_the_database_breaks_is_aborted_transaction_conflict_not_an_internal_error(postgres_url):
    from kit.errors import Aborted

    engine = create_engine(postgres_url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
        await conn.execute(insert(things), [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}])
    sessions = session_factory(engine)
    first_locked, second_locked = asyncio.Event(), asyncio.Event()

    async def lock(first: int, second: int, mine: asyncio.Event, theirs: asyncio.Event) -> None:
        async with SqlUnitOfWork(sessions) as uow:
            await uow.session.execute(things.update().where(things.c.id == first).values(name=f"{first}!"))
            mine.set()
            await theirs.wait()
            await uow.session.execute(things.update().where(things.c.id == second).values(name=f"{second}!"))
            await uow.commit()

    try:
        outcomes = await asyncio.gather(lock(1, 2, first_locked, second_locked), lock(2, 1, second_locked, first_locked),
                                        return_exceptions=True)  # fmt: skip
        aborted = [o for o in outcomes if isinstance(o, Aborted)]
        assert len(aborted) == 1 and aborted[0].reason == "TRANSACTION_CONFLICT", outcomes
        assert outcomes.count(None) == 1
    finally:
        await engine.dispose()
