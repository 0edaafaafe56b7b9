"""Alembic migrations per service, run against async engines.

A service's ``migrations/env.py`` is two lines: import its MetaData and call
:func:`run_env`. Bootstraps call :func:`upgrade` at start-up (idempotent).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from kit.db import create_engine


def alembic_config(script_location: Path, url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade_sync(script_location: Path, url: str, revision: str = "head") -> None:
    create_engine(url)  # makes the SQLite directory if needed
    command.upgrade(alembic_config(script_location, url), revision)


def downgrade_sync(script_location: Path, url: str, revision: str) -> None:
    command.downgrade(alembic_config(script_location, url), revision)


async def upgrade(script_location: Path, url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` up to ``revision`` (runs Alembic in a worker thread)."""
    await asyncio.to_thread(upgrade_sync, script_location, url, revision)


def run_env(target_metadata: MetaData) -> None:
    """Body of every service's ``env.py`` (online mode, async engine, batch mode for SQLite)."""
    url = context.config.get_main_option("sqlalchemy.url")
    assert url

    def do_run(connection: Connection) -> None:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()

    async def run_async() -> None:
        engine = create_async_engine(url, poolclass=pool.NullPool)
        async with engine.connect() as connection:
            await connection.run_sync(do_run)
        await engine.dispose()

    asyncio.run(run_async())
