"""Organizational units: create, read, list, update."""

from __future__ import annotations

from kit.clock import Clock, IdGenerator
from kit.errors import AlreadyExists, NotFound, Validator
from kit.paging import Page, next_page_token, page_request
from services.directory.domain.model import OrganizationalUnit, check_display_name, check_sender
from services.directory.ports import UnitOfWorkFactory


class OrganizationalUnitsUseCases:
    """Create, read, list and update organizational units."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, ids: IdGenerator, default_sender: str) -> None:
        self._uow = uow
        self._clock = clock
        self._ids = ids
        self._default_sender = default_sender

    async def create(self, display_name: str, invite_sender_address: str, request_id: str) -> OrganizationalUnit:
        """A unit with a name; the invite sender defaults to the deployment's address.

        The same ``request_id`` returns the unit first created with it; reused with other values
        it is ALREADY_EXISTS (REQUEST_ID_CONFLICT).
        """
        v = Validator()
        name = check_display_name(v, display_name)
        sender = check_sender(v, invite_sender_address) if invite_sender_address else self._default_sender
        v.check(len(request_id) <= 128, "request_id", "must be at most 128 characters")
        v.raise_if_any()
        async with self._uow() as uow:
            if request_id:
                earlier = await uow.units.by_request_id(request_id)
                if earlier is not None:
                    if (earlier.display_name, earlier.invite_sender_address) != (name, sender):
                        raise AlreadyExists(
                            "request_id was already used for a different organizational unit",
                            reason="REQUEST_ID_CONFLICT",
                            metadata={"request_id": request_id},
                        )
                    return earlier
            now = self._clock.now()
            unit = OrganizationalUnit(self._ids.new_id(), name, sender, now, now, request_id)
            await uow.units.add(unit)
            await uow.commit()
            return unit

    async def get(self, unit_id: str) -> OrganizationalUnit:
        if not unit_id:
            v = Validator()
            v.add("org_unit_id", "is required")
            v.raise_if_any()
        async with self._uow() as uow:
            unit = await uow.units.get(unit_id)
        if unit is None:
            raise NotFound(
                f"organizational unit {unit_id!r} does not exist",
                reason="ORGANIZATIONAL_UNIT_NOT_FOUND",
                metadata={"org_unit_id": unit_id},
            )
        return unit

    async def list(self, page_size: int, page_token: str) -> Page[OrganizationalUnit]:
        page = page_request(page_size, page_token, default=50, maximum=500, query="org_units")
        async with self._uow() as uow:
            items = await uow.units.list(page.after, page.size + 1)
        more = len(items) > page.size
        items = items[: page.size]
        token = next_page_token(items[-1].id, query="org_units") if more else ""
        return Page(items, token)

    async def update(self, unit_id: str, display_name: str | None, invite_sender_address: str | None) -> OrganizationalUnit:
        """Change the name and/or the invite sender (the fields named in the update mask)."""
        v = Validator()
        name = check_display_name(v, display_name) if display_name is not None else None
        sender = check_sender(v, invite_sender_address) if invite_sender_address is not None else None
        v.raise_if_any()
        async with self._uow() as uow:
            unit = await uow.units.get(unit_id)
            if unit is None:
                raise NotFound(
                    f"organizational unit {unit_id!r} does not exist",
                    reason="ORGANIZATIONAL_UNIT_NOT_FOUND",
                    metadata={"org_unit_id": unit_id},
                )
            now = self._clock.now()
            if name is not None:
                unit = unit.renamed(name, now)
            if sender is not None:
                unit = unit.with_sender(sender, now)
            await uow.units.update(unit)
            await uow.commit()
            return unit
