"""Hand-written fakes of the directory's ports (no patching, no I/O)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from services.directory.domain.model import OrganizationalUnit


class FakeUnits:
    def __init__(self) -> None:
        self.rows: dict[str, OrganizationalUnit] = {}

    async def add(self, unit: OrganizationalUnit) -> None:
        assert unit.id not in self.rows
        self.rows[unit.id] = unit

    async def get(self, unit_id: str) -> OrganizationalUnit | None:
        return self.rows.get(unit_id)

    async def by_request_id(self, request_id: str) -> OrganizationalUnit | None:
        return next((u for u in self.rows.values() if u.request_id == request_id), None)

    async def list(self, after: str | None, limit: int) -> list[OrganizationalUnit]:
        return [u for k, u in sorted(self.rows.items()) if after is None or k > after][:limit]

    async def update(self, unit: OrganizationalUnit) -> None:
        self.rows[unit.id] = replace(unit)


class FakeUnitOfWork:
    """Changes become visible to the next unit of work only when committed."""

    def __init__(self) -> None:
        self.committed_units = FakeUnits()
        self.commits = 0

    def __call__(self) -> FakeUnitOfWork:
        return self

    async def __aenter__(self) -> FakeUnitOfWork:
        self.units = FakeUnits()
        self.units.rows = dict(self.committed_units.rows)
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.units = self.committed_units

    async def commit(self) -> None:
        self.committed_units.rows = dict(self.units.rows)
        self.commits += 1
