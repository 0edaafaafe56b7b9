"""The kit's unit of work on SQLite and PostgreSQL: rolls back unless committed, maps constraint errors."""

from __future__ import annotations

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
