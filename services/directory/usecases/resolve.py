"""ResolveAccount: where an email is routed — the routing answer availability, booking and identity
rely on.

Rules:

* The account with the email (whatever its state), the non-disconnected calendar connection serving
  its domain, the room with that mailbox; a part that does not exist is left unset, never an error
  (callers treat a missing calendar route as EMAIL_DOMAIN_NOT_SERVED). Only an unknown unit or a
  malformed email fails.
* Conferencing links, for emails of the unit (an account or a served domain), on every ACTIVE
  conferencing connection, in the order the connections were made:
  - Google Meet: the Google Workspace account's user id (directory sync), else the email itself when a
    Google calendar connection serves the domain (Meet spaces are created as that user).
  - Microsoft Teams: the Entra account's object id (directory sync), else Graph ``/users/{email}``.
  - Zoom ``GET /users/{email}``, Webex ``GET /people?email=``.
  Provider answers are stored (``conferencing_links``) and reused for ``link_ttl`` (a "no such user"
  answer for ``miss_ttl``), so a resolve normally costs two indexed queries and no provider call.
  When a provider cannot be asked, a stale stored answer is used, else the link is left out.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta

from kit.clock import Clock
from kit.errors import RendezvousError, Validator
from kit.validation import email_domain
from services.directory.domain.model import (
    Account,
    AccountSource,
    CalendarConnection,
    ConferencingConnection,
    ConferencingService,
    Provider,
    Room,
)
from services.directory.domain.validation import check_email, check_id
from services.directory.ports import (
    ConferencingDirectory,
    ConferencingLink,
    Identity,
    Resolution,
    RoutingReads,
    UnitOfWorkFactory,
)
from services.directory.usecases.common import unit_not_found
from services.directory.usecases.connections import CALENDAR, ConnectionsUseCases

log = logging.getLogger("rendezvous.directory.resolve")


@dataclass(frozen=True)
class Link:
    connection: ConferencingConnection
    external_user_id: str


@dataclass(frozen=True)
class Resolved:
    account: Account | None
    calendar: CalendarConnection | None
    room: Room | None
    links: list[Link]


class ResolveUseCases:
    def __init__(
        self,
        reads: RoutingReads,
        uow: UnitOfWorkFactory,
        identity: Identity,
        conferencing: ConferencingDirectory,
        connections: ConnectionsUseCases,
        clock: Clock,
        *,
        link_ttl: timedelta = timedelta(hours=24),
        miss_ttl: timedelta = timedelta(minutes=10),
        lookup_timeout: float = 3.0,
    ) -> None:
        self._reads = reads
        self._uow = uow
        self._identity = identity
        self._conferencing = conferencing
        self._connections = connections
        self._clock = clock
        self._link_ttl = link_ttl
        self._miss_ttl = miss_ttl
        self._lookup_timeout = lookup_timeout

    async def resolve(self, unit_id: str, email: str) -> Resolved:
        v = Validator()
        check_id(v, unit_id, "org_unit_id")
        email = check_email(v, email)
        v.raise_if_any()
        found = await self._reads.resolve(unit_id, email, email_domain(email))
        if found is None:
            raise unit_not_found(unit_id)
        calendar = found.calendar
        if calendar is not None and calendar.pending:
            calendar = await self._connections.refresh(CALENDAR, calendar)
        links: list[Link] = []
        if found.conferencing and (found.account is not None or calendar is not None):
            links = await self._links(found, email, calendar)
        return Resolved(found.account, calendar, found.room, links)

    async def _links(self, found: Resolution, email: str, calendar: CalendarConnection | None) -> list[Link]:
        now = self._clock.now()
        answers: dict[str, str] = {}
        lookups: list[ConferencingConnection] = []
        for connection in found.conferencing:
            direct = _without_provider(connection.service, found.account, calendar, email)
            if direct is not None:
                answers[connection.id] = direct
                continue
            stored = found.links.get(connection.id)
            if stored is not None and now - stored.resolve_time < (self._link_ttl if stored.external_user_id else self._miss_ttl):
                answers[connection.id] = stored.external_user_id
            else:
                lookups.append(connection)
        if lookups:
            results = await asyncio.gather(*(self._lookup(c, email) for c in lookups))
            fresh = []
            for connection, result in zip(lookups, results, strict=True):
                if result is None:  # the provider could not be asked: a stale answer is better than none
                    stale = found.links.get(connection.id)
                    answers[connection.id] = stale.external_user_id if stale else ""
                else:
                    answers[connection.id] = result
                    fresh.append(ConferencingLink(connection.id, email, result, now))
            if fresh:
                async with self._uow() as uow:
                    for link in fresh:
                        await uow.links.put(link)
                    await uow.commit()
        return [Link(c, answers[c.id]) for c in found.conferencing if answers.get(c.id)]

    async def _lookup(self, connection: ConferencingConnection, email: str) -> str | None:
        """The provider's user id, "" when it has no such user, None when it could not be asked."""

        async def token(rejected: str = "") -> str:
            return await self._identity.access_token(connection.org_unit_id, connection.credential_id, rejected=rejected)

        try:
            async with asyncio.timeout(self._lookup_timeout):
                return await self._conferencing.find_user(connection, email, token) or ""
        except (RendezvousError, TimeoutError) as error:
            log.warning("conferencing lookup failed", extra={"connection_id": connection.id,
                                                            "error": type(error).__name__})  # fmt: skip
            return None


def _without_provider(service: ConferencingService, account: Account | None, calendar: CalendarConnection | None,
                      email: str) -> str | None:  # fmt: skip
    """The link when the unit's own data already says who the user is (no provider call)."""
    if service is ConferencingService.GOOGLE_MEET:
        if account is not None and account.source is AccountSource.GOOGLE_WORKSPACE:
            return account.external_id
        return email if calendar is not None and calendar.provider is Provider.GOOGLE else ""
    if service is ConferencingService.MICROSOFT_TEAMS and account is not None:
        if account.source is AccountSource.MICROSOFT_ENTRA:
            return account.external_id
    return None
