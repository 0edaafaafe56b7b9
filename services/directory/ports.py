"""Ports of the directory service: what the use cases need from the outside world."""

from __future__ import annotations

from types import TracebackType
from typing import Protocol, Self

from services.directory.domain.model import OrganizationalUnit


class OrganizationalUnits(Protocol):
    """Stores organizational units; ``list`` pages by id."""

    async def add(self, unit: OrganizationalUnit) -> None: ...
    async def get(self, unit_id: str) -> OrganizationalUnit | None: ...
    async def by_request_id(self, request_id: str) -> OrganizationalUnit | None: ...
    async def list(self, after: str | None, limit: int) -> list[OrganizationalUnit]: ...
    async def update(self, unit: OrganizationalUnit) -> None: ...


class UnitOfWork(Protocol):
    """One transaction over the directory's repositories; rolls back unless committed."""

    units: OrganizationalUnits

    async def __aenter__(self) -> Self: ...
    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...
    async def commit(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self) -> UnitOfWork: ...
