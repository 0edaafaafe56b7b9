"""Errors and small checks the directory's use cases share."""

from __future__ import annotations

from kit.errors import FailedPrecondition, NotFound, Validator
from services.directory.domain.model import Connection
from services.directory.domain.validation import check_id
from services.directory.ports import UnitOfWork


def unit_not_found(unit_id: str) -> NotFound:
    return NotFound(
        f"organizational unit {unit_id!r} does not exist",
        reason="ORGANIZATIONAL_UNIT_NOT_FOUND",
        metadata={"org_unit_id": unit_id},
    )


def connection_not_found(kind: str, connection_id: str) -> NotFound:
    return NotFound(
        f"{kind} connection {connection_id!r} does not exist in this unit",
        reason="CONNECTION_NOT_FOUND",
        metadata={"connection_id": connection_id},
    )


def connection_not_active(connection: Connection) -> FailedPrecondition:
    return FailedPrecondition(
        f"connection {connection.id!r} is {connection.state.value}, not ACTIVE",
        reason="CONNECTION_NOT_ACTIVE",
        metadata={"connection_id": connection.id, "state": connection.state.value},
    )


def check_unit_and_id(unit_id: str, other_id: str, other_field: str) -> None:
    """Both ids are required and short (INVALID_ARGUMENT naming the fields)."""
    v = Validator()
    check_id(v, unit_id, "org_unit_id")
    check_id(v, other_id, other_field)
    v.raise_if_any()


async def require_unit(uow: UnitOfWork, unit_id: str) -> None:
    if await uow.units.get(unit_id) is None:
        raise unit_not_found(unit_id)
