"""SQL repository of availability rules and the unit of work of the availability service."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from kit.db import SqlUnitOfWork
from services.availability.adapters.tables import availability_rules as table
from services.availability.domain.rules import AvailabilityRules, DateOverride, StoredRules, WeeklyPeriod
from services.availability.ports import RulesRepository


def _aware(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def rules_to_json(rules: AvailabilityRules) -> str:
    return json.dumps(
        {
            "weekly": [[p.day, p.start, p.end] for p in rules.weekly],
            "overrides": [
                {"date": o.day.isoformat(), "unavailable": o.unavailable, "periods": [list(p) for p in o.periods]}
                for o in rules.overrides
            ],
        },
        separators=(",", ":"),
    )


def rules_from_json(time_zone: str, text: str) -> AvailabilityRules:
    data = json.loads(text)
    return AvailabilityRules(
        time_zone,
        tuple(WeeklyPeriod(int(d), int(s), int(e)) for d, s, e in data["weekly"]),
        tuple(
            DateOverride(date.fromisoformat(o["date"]), bool(o["unavailable"]), tuple((int(s), int(e)) for s, e in o["periods"]))
            for o in data["overrides"]
        ),
    )


def _stored(row: Any) -> StoredRules:
    return StoredRules(
        org_unit_id=row.org_unit_id,
        email=row.email,
        rules=rules_from_json(row.time_zone, row.rules_json),
        create_time=_aware(row.create_time),
        update_time=_aware(row.update_time),
    )


class SqlRules:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def get(self, org_unit_id: str, email: str) -> StoredRules | None:
        query = select(table).where(table.c.org_unit_id == org_unit_id, table.c.email == email)
        row = (await self._s.execute(query)).first()
        return _stored(row) if row else None

    async def get_many(self, org_unit_id: str, emails: Sequence[str]) -> dict[str, StoredRules]:
        if not emails:
            return {}
        query = select(table).where(table.c.org_unit_id == org_unit_id, table.c.email.in_(list(emails)))
        return {row.email: _stored(row) for row in (await self._s.execute(query)).all()}

    async def put(self, rules: StoredRules) -> None:
        """Insert or replace in one statement (two concurrent first writes cannot collide)."""
        values = {
            "time_zone": rules.rules.time_zone,
            "rules_json": rules_to_json(rules.rules),
            "update_time": rules.update_time,
        }
        dialect = self._s.get_bind().dialect.name
        make_insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
        statement = make_insert(table).values(
            org_unit_id=rules.org_unit_id, email=rules.email, create_time=rules.create_time, **values
        )
        await self._s.execute(
            statement.on_conflict_do_update(index_elements=[table.c.org_unit_id, table.c.email], set_=values)
        )

    async def delete(self, org_unit_id: str, email: str) -> bool:
        result = await self._s.execute(
            delete(table).where(table.c.org_unit_id == org_unit_id, table.c.email == email)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


class AvailabilityUnitOfWork(SqlUnitOfWork):
    rules: RulesRepository

    def _open(self, session: AsyncSession) -> None:
        self.rules = SqlRules(session)
