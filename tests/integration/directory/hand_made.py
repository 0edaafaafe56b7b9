"""Units made by hand for the routing tests: a NO_ACCESS calendar connection serving one domain and
hand-made accounts, so identity is never asked."""

from __future__ import annotations

from typing import Any

from services.directory.bootstrap import DirectoryApp
from services.directory.domain.model import AccessMode, Grant, Provider


class NoIdentity:
    """NO_ACCESS connections and hand-made accounts never ask identity."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"identity was asked: {name}")


async def unit_with_accounts(app: DirectoryApp, name: str, domain: str, people: list[str]) -> tuple[str, str]:
    """A unit serving ``domain`` with an account per person: (unit id, calendar connection id)."""
    unit = (await app.units.create(name, "", "")).id
    calendar = (await app.connections.connect_calendar(unit, Provider.NONE, AccessMode.NO_ACCESS, [domain], "",
                                                       Grant.AUTHORIZATION_CODE, "", "")).connection  # fmt: skip
    for person in people:
        await app.accounts.create(unit, f"{person}@{domain}", person.title(), "Europe/London", "")
    return unit, calendar.id
