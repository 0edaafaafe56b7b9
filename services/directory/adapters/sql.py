"""SQL repositories and the unit of work of the directory service."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kit.db import SqlUnitOfWork
from services.directory.adapters.tables import org_units
from services.directory.domain.model import OrganizationalUnit
from services.directory.ports import OrganizationalUnits


def _aware(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _unit(row: Any) -> OrganizationalUnit:
    return OrganizationalUnit(
        id=row.id,
        display_name=row.display_name,
        invite_sender_address=row.invite_sender_address,
        create_time=_aware(row.create_time),
        update_time=_aware(row.update_time),
        request_id=row.request_id or "",
    )


class SqlOrganizationalUnits:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add(self, unit: OrganizationalUnit) -> None:
        await self._s.execute(
            insert(org_units).values(
                id=unit.id,
                display_name=unit.display_name,
                invite_sender_address=unit.invite_sender_address,
                request_id=unit.request_id or None,
                create_time=unit.create_time,
                update_time=unit.update_time,
            )
        )

    async def get(self, unit_id: str) -> OrganizationalUnit | None:
        row = (await self._s.execute(select(org_units).where(org_units.c.id == unit_id))).first()
        return _unit(row) if row else None

    async def by_request_id(self, request_id: str) -> OrganizationalUnit | None:
        row = (await self._s.execute(select(org_units).where(org_units.c.request_id == request_id))).first()
        return _unit(row) if row else None

    async def list(self, after: str | None, limit: int) -> list[OrganizationalUnit]:
        query = select(org_units).order_by(org_units.c.id).limit(limit)
        if after is not None:
            query = query.where(org_units.c.id > after)
        return [_unit(r) for r in (await self._s.execute(query)).all()]

    async def update(self, unit: OrganizationalUnit) -> None:
        await self._s.execute(
            update(org_units)
            .where(org_units.c.id == unit.id)
            .values(
                display_name=unit.display_name,
                invite_sender_address=unit.invite_sender_address,
                update_time=unit.update_time,
            )
        )


class DirectoryUnitOfWork(SqlUnitOfWork):
    units: OrganizationalUnits

    def _open(self, session: AsyncSession) -> None:
        self.units = SqlOrganizationalUnits(session)
