"""What every connection goes through after it is made: reads (a pending one checked with identity
first), the authorization completing or failing, and disconnection with the credential's revocation.

Rules:

* A pending connection becomes ACTIVE when identity reports its authorization COMPLETED (checked
  lazily when it is read or resolved, and by the background poller); FAILED or EXPIRED authorizations
  leave it NEEDS_REAUTHORIZATION with the reason. Reads never fail because identity cannot answer.
* Disconnecting stops routing at once (DISCONNECTED and domains released in one transaction, written
  only if nobody changed the connection meanwhile) and then revokes the credential at identity; when
  identity cannot be reached the revocation stays pending and the background task retries it. An
  authorization still pending at disconnection is watched, and its credential revoked if it
  completes later.
* Another unit's connection is NOT_FOUND exactly like an unknown one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar

from kit.clock import Clock
from kit.errors import FailedPrecondition, NotFound, RendezvousError, Unavailable, Validator
from kit.paging import Page, next_page_token, page_request
from services.directory.domain.model import (
    CalendarConnection,
    ConferencingConnection,
    Connection,
    ConnectionKind,
    ConnectionState,
    DirectoryConnection,
)
from services.directory.domain.validation import check_id
from services.directory.ports import (
    Authorization,
    AuthorizationState,
    ConnectionStore,
    Identity,
    UnitOfWork,
    UnitOfWorkFactory,
)
from services.directory.usecases.common import check_unit_and_id, connection_not_found, require_unit

log = logging.getLogger("rendezvous.directory.connections")

C = TypeVar("C", bound=Connection)


@dataclass(frozen=True)
class Kind(Generic[C]):
    """What differs between the three kinds of connection for the shared lifecycle."""

    name: ConnectionKind
    store: Callable[[UnitOfWork], ConnectionStore[C]]
    has_domains: bool


CALENDAR: Kind[CalendarConnection] = Kind(ConnectionKind.CALENDAR, lambda u: u.calendars, True)
DIRECTORY: Kind[DirectoryConnection] = Kind(ConnectionKind.DIRECTORY, lambda u: u.directories, True)
CONFERENCING: Kind[ConferencingConnection] = Kind(ConnectionKind.CONFERENCING, lambda u: u.conferencing, False)
KINDS: tuple[Kind[Any], ...] = (CALENDAR, DIRECTORY, CONFERENCING)


class ConnectionLifecycle:
    def __init__(self, uow: UnitOfWorkFactory, identity: Identity, clock: Clock,
                 on_directory_active: Callable[[], None] = lambda: None) -> None:  # fmt: skip
        self._uow = uow
        self._identity = identity
        self._clock = clock
        self._on_directory_active = on_directory_active

    # -------------------------------------------------------------------------------- read, list

    async def get(self, kind: Kind[C], unit_id: str, connection_id: str) -> C:
        """The connection (a pending one is first checked with identity)."""
        check_unit_and_id(unit_id, connection_id, f"{kind.name.lower()}_connection_id")
        async with self._uow() as uow:
            connection = await kind.store(uow).get(unit_id, connection_id)
        if connection is None:
            raise connection_not_found(kind.name.lower(), connection_id)
        return await self.refresh(kind, connection)

    async def list(self, kind: Kind[C], unit_id: str, page_size: int, page_token: str,
                   show_disconnected: bool) -> Page[C]:  # fmt: skip
        v = Validator()
        check_id(v, unit_id, "org_unit_id")
        v.raise_if_any()
        query = f"{kind.name}:{unit_id}:{show_disconnected}"
        page = page_request(page_size, page_token, default=50, maximum=1000, query=query)
        async with self._uow() as uow:
            await require_unit(uow, unit_id)
            items = await kind.store(uow).list(unit_id, page.after, page.size + 1, show_disconnected)
        more = len(items) > page.size
        items = [await self.refresh(kind, c) for c in items[: page.size]]
        token = next_page_token(items[-1].id, query=query) if more else ""
        return Page(items, token)

    # ---------------------------------------------------------------------------- authorization

    async def refresh(self, kind: Kind[C], connection: C) -> C:
        """A pending connection after asking identity about its authorization; unchanged when
        identity cannot answer (reads never fail because of it)."""
        if not connection.pending or not connection.authorization_id:
            return connection
        try:
            authorization = await self._identity.get_authorization(connection.org_unit_id, connection.authorization_id)
        except RendezvousError as error:
            log.warning("authorization check failed", extra={"connection_id": connection.id, "reason": error.reason})
            return connection
        return await self._apply_authorization(kind, connection, authorization)

    async def _apply_authorization(self, kind: Kind[C], connection: C, authorization: Authorization) -> C:
        now = self._clock.now()
        changed: Any
        if authorization.state is AuthorizationState.COMPLETED and authorization.credential_id:
            changed = replace(connection, state=ConnectionState.ACTIVE, credential_id=authorization.credential_id,
                              state_message="", update_time=now)  # fmt: skip
            if isinstance(changed, DirectoryConnection):
                changed = replace(changed, next_sync_time=now)
        elif authorization.state in (AuthorizationState.FAILED, AuthorizationState.EXPIRED):
            why = authorization.failure_reason or authorization.state.value
            detail = f": {authorization.failure_message}" if authorization.failure_message else ""
            changed = replace(connection, state=ConnectionState.NEEDS_REAUTHORIZATION, update_time=now,
                              state_message=f"the authorization {authorization.state.value.lower()} ({why}){detail}; "
                                            "disconnect and connect again")  # fmt: skip
        else:
            return connection
        async with self._uow() as uow:
            wrote = await kind.store(uow).update(changed, expected=ConnectionState.PENDING_AUTHORIZATION)
            if not wrote:
                current = await kind.store(uow).get(connection.org_unit_id, connection.id)
                return current or connection
            await uow.commit()
        if isinstance(changed, DirectoryConnection) and changed.state is ConnectionState.ACTIVE:
            self._on_directory_active()
        return changed

    async def poll_pending(self, limit: int = 100) -> int:
        """Background: check every pending authorization once; how many connections changed."""
        changed = 0
        for kind in KINDS:
            async with self._uow() as uow:
                pending = await kind.store(uow).pending_authorization(limit)
            for connection in pending:
                if (await self.refresh(kind, connection)).state is not connection.state:
                    changed += 1
        return changed

    # ------------------------------------------------------------------------------- disconnect

    async def disconnect(self, kind: Kind[C], unit_id: str, connection_id: str) -> C:
        """DISCONNECTED at once (routing stops, domains are released), then the credential is revoked."""
        check_unit_and_id(unit_id, connection_id, f"{kind.name.lower()}_connection_id")
        while True:
            async with self._uow() as uow:
                store = kind.store(uow)
                connection = await store.get(unit_id, connection_id)
                if connection is None:
                    raise connection_not_found(kind.name.lower(), connection_id)
                if connection.disconnected:
                    return connection
                now = self._clock.now()
                done: C = replace(
                    connection, state=ConnectionState.DISCONNECTED, state_message="", disconnect_time=now,
                    update_time=now, revoke_pending=bool(connection.credential_id or connection.authorization_id),
                )  # fmt: skip
                if not await store.update(done, expected=connection.state):
                    continue  # it changed meanwhile (e.g. its authorization completed): read it again
                if kind is CALENDAR:
                    await uow.calendars.release_domains(connection_id)
                elif kind is DIRECTORY:
                    await uow.directories.release_domains(connection_id)
                await uow.commit()
                break
        return await self._revoke(kind, done)

    async def retry_revocations(self, limit: int = 100) -> int:
        """Background: revoke the credentials of disconnected connections identity could not revoke yet."""
        done = 0
        for kind in KINDS:
            async with self._uow() as uow:
                waiting = await kind.store(uow).revoke_pending(limit)
            for connection in waiting:
                if not (await self._revoke(kind, connection)).revoke_pending:
                    done += 1
        return done

    async def _revoke(self, kind: Kind[C], connection: C) -> C:
        credential_id = connection.credential_id
        try:
            if not credential_id and connection.authorization_id:
                authorization = await self._identity.get_authorization(connection.org_unit_id, connection.authorization_id)
                if authorization.state is AuthorizationState.PENDING:
                    return connection  # it may still complete; look again later
                credential_id = authorization.credential_id
            if credential_id:
                await self._identity.revoke_credential(connection.org_unit_id, credential_id)
        except NotFound:
            pass  # nothing left to revoke at identity
        except (Unavailable, FailedPrecondition) as error:
            log.warning("credential revocation postponed", extra={"connection_id": connection.id, "reason": error.reason})
            return connection
        revoked: C = replace(connection, revoke_pending=False, credential_id=credential_id)
        async with self._uow() as uow:
            await kind.store(uow).update(revoked, expected=ConnectionState.DISCONNECTED)
            await uow.commit()
        return revoked
