"""Alembic stairway for every service: each revision upgrades, downgrades and upgrades again."""

from __future__ import annotations

import asyncio

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from kit.db import create_engine
from kit.migrations import alembic_config, downgrade_sync, upgrade_sync
from services.availability.bootstrap import MIGRATIONS as AVAILABILITY
from services.booking.bootstrap import MIGRATIONS as BOOKING
from services.directory.bootstrap import MIGRATIONS as DIRECTORY
from services.identity.bootstrap import MIGRATIONS as IDENTITY

SERVICES = {"availability": AVAILABILITY, "booking": BOOKING, "directory": DIRECTORY, "identity": IDENTITY}


def _revisions(location) -> list[str]:
    script = ScriptDirectory.from_config(alembic_config(location, "sqlite://"))
    return [r.revision for r in reversed(list(script.walk_revisions("base", "heads")))]


async def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    async with engine.connect() as conn:
        names = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    await engine.dispose()
    return names - {"alembic_version"}


@pytest.mark.parametrize("service", sorted(SERVICES))
async def test_every_revision_goes_up_down_and_up_again(service, database_url):
    location = SERVICES[service]
    revisions = _revisions(location)
    assert revisions, f"{service} has no migrations"
    previous = "base"
    for revision in revisions:
        await asyncio.to_thread(upgrade_sync, location, database_url, revision)
        after_up = await _tables(database_url)
        await asyncio.to_thread(downgrade_sync, location, database_url, previous)
        await asyncio.to_thread(upgrade_sync, location, database_url, revision)
        assert await _tables(database_url) == after_up
        previous = revision
    await asyncio.to_thread(downgrade_sync, location, database_url, "base")
    assert await _tables(database_url) == set()
