"""kit.pg on PostgreSQL: statements compiled once and bound by name, a few connections of their own
that are reused while they work, replaced when a statement failed, and closed at the end."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from sqlalchemy import Integer, bindparam, func, literal, select

from kit.pg import DriverConnections, DriverStatement

PID = DriverStatement(select(func.pg_backend_pid().label("pid"), bindparam("n", type_=Integer).label("n")))
SLOW_PID = DriverStatement(select(func.pg_backend_pid().label("pid"), func.pg_sleep(0.05).label("slept")))
MINUS = DriverStatement(select((literal(10) - bindparam("d", type_=Integer)).label("q")))
DIVIDE = DriverStatement(select((literal(1) / bindparam("d", type_=Integer)).label("q")))


@pytest.fixture
async def connections(postgres_url):
    pool = DriverConnections(postgres_url, size=2)
    yield pool
    await pool.close()


async def test_a_statement_binds_its_parameters_by_name_with_its_literals(connections):
    [row] = await connections.fetch(PID, {"n": 7})
    assert row["n"] == 7
    [row] = await connections.fetch(MINUS, {"d": 4})
    assert row["q"] == 6  # the literal 10 is bound too


async def test_calls_one_after_another_reuse_one_connection(connections):
    pids = {(await connections.fetch(PID, {"n": n}))[0]["pid"] for n in range(5)}
    assert len(pids) == 1


async def test_no_more_than_size_connections_serve_concurrent_calls(connections):
    rows = await asyncio.gather(*(connections.fetch(SLOW_PID, {}) for _ in range(6)))
    assert len({r[0]["pid"] for r in rows}) == 2


async def test_a_connection_whose_statement_failed_is_replaced(connections):
    before = (await connections.fetch(PID, {"n": 1}))[0]["pid"]
    with pytest.raises(asyncpg.DivisionByZeroError):
        await connections.fetch(DIVIDE, {"d": 0})
    after = (await connections.fetch(PID, {"n": 1}))[0]["pid"]
    assert after != before


async def test_a_connection_the_server_ended_is_not_handed_out_again(connections, postgres_url):
    victim = (await connections.fetch(PID, {"n": 1}))[0]["pid"]
    admin = await asyncpg.connect(postgres_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", victim)
    finally:
        await admin.close()
    for _ in range(100):  # the client notices the closed socket on its next read
        await asyncio.sleep(0.01)
        if all(c.is_closed() for c in connections._idle):
            break
    assert (await connections.fetch(PID, {"n": 1}))[0]["pid"] != victim


async def test_closed_connections_refuse_further_calls(postgres_url):
    pool = DriverConnections(postgres_url, size=1)
    await pool.fetch(PID, {"n": 1})
    await pool.close()
    with pytest.raises(RuntimeError):
        await pool.fetch(PID, {"n": 1})
