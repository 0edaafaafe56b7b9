"""Connecting calendar, directory and conferencing services (reads, authorization and disconnection
are in ``lifecycle.py``).

Rules:

* Connecting starts an identity authorization and keeps its URL (a retry with the same request_id
  returns the same connection and URL), or uses a given ORGANIZATION_WIDE credential of the right
  provider, purpose (and access mode) and is ACTIVE at once; NO_ACCESS calendars are ACTIVE at once
  with no authorization at all.
* A domain is served by at most one non-disconnected calendar connection of a unit (and onboarded by
  at most one directory connection): a unique constraint decides, a read before it only words the
  error.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Generic, TypeVar

from kit.clock import Clock, IdGenerator
from kit.errors import AlreadyExists, FailedPrecondition, InvalidArgument, Validator
from services.directory.domain.model import (
    AccessMode,
    CalendarConnection,
    ConferencingConnection,
    ConferencingService,
    Connection,
    ConnectionState,
    DirectoryConnection,
    Grant,
    Provider,
    Purpose,
)
from services.directory.domain.validation import check_domains, check_id, check_request_id, check_uri
from services.directory.ports import (
    Authorization,
    AuthorizationRequest,
    Identity,
    UnitOfWork,
    UnitOfWorkFactory,
)
from services.directory.usecases.common import require_unit
from services.directory.usecases.lifecycle import (
    CALENDAR,
    CONFERENCING,
    DIRECTORY,
    KINDS,
    ConnectionLifecycle,
    Kind,
)

__all__ = ["CALENDAR", "CONFERENCING", "DIRECTORY", "KINDS", "ConnectionsUseCases", "Kind"]

C = TypeVar("C", bound=Connection)

DEFAULT_SYNC_INTERVAL = timedelta(hours=1)
MIN_SYNC_INTERVAL = timedelta(minutes=5)
MAX_SYNC_INTERVAL = timedelta(days=7)
DEFAULT_DEACTIVATION_RATIO = 0.10
CALENDAR_PROVIDERS = (Provider.GOOGLE, Provider.MICROSOFT)
DIRECTORY_PROVIDERS = (Provider.GOOGLE, Provider.MICROSOFT, Provider.SUCCESSFACTORS)


@dataclass(frozen=True)
class Connected(Generic[C]):
    connection: C
    authorization_url: str


@dataclass(frozen=True)
class _Start:
    """How a new connection gets its credential."""

    credential_id: str
    authorization: Authorization | None

    @property
    def state(self) -> ConnectionState:
        return ConnectionState.PENDING_AUTHORIZATION if self.authorization else ConnectionState.ACTIVE


class ConnectionsUseCases(ConnectionLifecycle):
    """Connecting, on top of the lifecycle every connection shares."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        identity: Identity,
        clock: Clock,
        ids: IdGenerator,
        on_directory_active: Callable[[], None] = lambda: None,
    ) -> None:
        super().__init__(uow, identity, clock, on_directory_active)
        self._ids = ids

    # ------------------------------------------------------------------------------------ connect

    async def connect_calendar(
        self, unit_id: str, provider: Provider, mode: AccessMode | None, domains: Sequence[str],
        credential_id: str, grant: Grant, return_uri: str, request_id: str,
    ) -> Connected[CalendarConnection]:  # fmt: skip
        """A calendar connection serving ``domains`` in ``mode``."""
        v = Validator()
        check_id(v, unit_id, "org_unit_id")
        v.check(mode is not None, "access_mode", "is required: READ_WRITE, FREE_BUSY or NO_ACCESS")
        no_access = mode is AccessMode.NO_ACCESS
        if not no_access:
            v.check(provider in CALENDAR_PROVIDERS, "provider", "must be GOOGLE or MICROSOFT")
        else:
            v.check(provider in (Provider.NONE, *CALENDAR_PROVIDERS), "provider", "must be GOOGLE, MICROSOFT or unset")
            v.check(not credential_id, "credential_id", "must be empty for NO_ACCESS")
        names = check_domains(v, domains)
        self._check_common(v, credential_id, return_uri, request_id)
        v.raise_if_any()
        if grant is Grant.ADMIN_CONSENT and not no_access and provider is not Provider.MICROSOFT:
            raise _unsupported("grant", "ADMIN_CONSENT is for MICROSOFT only")
        assert mode is not None
        payload = (provider, mode, frozenset(names), credential_id)

        async with self._uow() as uow:
            await require_unit(uow, unit_id)
            earlier = await self._replay(uow, CALENDAR, unit_id, request_id, payload, _calendar_payload)
            if earlier is not None:
                return earlier
            await _check_domains_free(uow.calendars.domain_holders, unit_id, names, "calendar")
        connection_id = self._ids.new_id()
        if no_access:
            start = _Start("", None)
        else:
            start = await self._start(unit_id, provider, Purpose.CALENDAR, mode, credential_id, grant, return_uri,
                                      connection_id)  # fmt: skip
        now = self._clock.now()
        connection = CalendarConnection(
            **self._new_fields(connection_id, unit_id, start, request_id, now),
            provider=provider, access_mode=mode, domains=names,
        )  # fmt: skip
        async with self._uow() as uow:
            await uow.calendars.add(connection)
            await uow.commit()
        return Connected(connection, connection.authorization_url)

    async def connect_directory(
        self, unit_id: str, provider: Provider, domains: Sequence[str], credential_id: str, grant: Grant,
        return_uri: str, sync_interval: timedelta, max_deactivation_ratio: float, api_server_url: str,
        request_id: str,
    ) -> Connected[DirectoryConnection]:  # fmt: skip
        """A directory connection onboarding the users of ``domains``."""
        api_server_url = api_server_url.strip().rstrip("/")
        v = Validator()
        check_id(v, unit_id, "org_unit_id")
        v.check(provider in DIRECTORY_PROVIDERS, "provider", "must be GOOGLE, MICROSOFT or SUCCESSFACTORS")
        names = check_domains(v, domains)
        self._check_common(v, credential_id, return_uri, request_id)
        interval = sync_interval or DEFAULT_SYNC_INTERVAL
        v.check(MIN_SYNC_INTERVAL <= interval <= MAX_SYNC_INTERVAL, "sync_interval", "must be 5 minutes to 7 days")
        ratio = max_deactivation_ratio or DEFAULT_DEACTIVATION_RATIO
        v.check(0 < ratio <= 1, "max_deactivation_ratio", "must be greater than 0 and at most 1")
        if provider is Provider.SUCCESSFACTORS:
            v.check(bool(credential_id), "credential_id", "is required for SUCCESSFACTORS (CreateServiceCredential)")
            v.check(bool(api_server_url), "api_server_url", "is required for SUCCESSFACTORS")
            check_uri(v, api_server_url, "api_server_url", https_only=True)
        else:
            v.check(not api_server_url, "api_server_url", "is for SUCCESSFACTORS only")
        v.raise_if_any()
        if grant is Grant.ADMIN_CONSENT and provider is not Provider.MICROSOFT:
            raise _unsupported("grant", "ADMIN_CONSENT is for MICROSOFT only")
        payload = (provider, frozenset(names), credential_id, interval, ratio, api_server_url)

        async with self._uow() as uow:
            await require_unit(uow, unit_id)
            earlier = await self._replay(uow, DIRECTORY, unit_id, request_id, payload, _directory_payload)
            if earlier is not None:
                return earlier
            await _check_domains_free(uow.directories.domain_holders, unit_id, names, "directory")
        connection_id = self._ids.new_id()
        start = await self._start(unit_id, provider, Purpose.DIRECTORY, None, credential_id, grant, return_uri,
                                  connection_id)  # fmt: skip
        now = self._clock.now()
        connection = DirectoryConnection(
            **self._new_fields(connection_id, unit_id, start, request_id, now),
            provider=provider, domains=names, sync_interval=interval, max_deactivation_ratio=ratio,
            api_server_url=api_server_url, cursor="",
            next_sync_time=now if start.state is ConnectionState.ACTIVE else None,
            last_sync_run_id="", last_success_time=None, last_full_sync_time=None,
        )  # fmt: skip
        async with self._uow() as uow:
            await uow.directories.add(connection)
            await uow.commit()
        if connection.state is ConnectionState.ACTIVE:
            self._on_directory_active()
        return Connected(connection, connection.authorization_url)

    async def connect_conferencing(
        self, unit_id: str, service: ConferencingService | None, credential_id: str, grant: Grant,
        return_uri: str, request_id: str,
    ) -> Connected[ConferencingConnection]:  # fmt: skip
        """A conferencing connection whose users are linked to accounts by email."""
        v = Validator()
        check_id(v, unit_id, "org_unit_id")
        v.check(service is not None, "service", "is required: GOOGLE_MEET, MICROSOFT_TEAMS, ZOOM or WEBEX")
        self._check_common(v, credential_id, return_uri, request_id)
        v.raise_if_any()
        assert service is not None
        if grant is Grant.ADMIN_CONSENT and service is not ConferencingService.MICROSOFT_TEAMS:
            raise _unsupported("grant", "ADMIN_CONSENT is for MICROSOFT_TEAMS only")
        payload = (service, credential_id)
        async with self._uow() as uow:
            await require_unit(uow, unit_id)
            earlier = await self._replay(uow, CONFERENCING, unit_id, request_id, payload, _conferencing_payload)
            if earlier is not None:
                return earlier
        connection_id = self._ids.new_id()
        start = await self._start(unit_id, service.provider, Purpose.CONFERENCING, None, credential_id, grant,
                                  return_uri, connection_id)  # fmt: skip
        now = self._clock.now()
        connection = ConferencingConnection(
            **self._new_fields(connection_id, unit_id, start, request_id, now), service=service
        )
        async with self._uow() as uow:
            await uow.conferencing.add(connection)
            await uow.commit()
        return Connected(connection, connection.authorization_url)

    @staticmethod
    def _check_common(v: Validator, credential_id: str, return_uri: str, request_id: str) -> None:
        v.check(len(credential_id) <= 64, "credential_id", "must be at most 64 characters")
        check_uri(v, return_uri, "return_uri")
        check_request_id(v, request_id)

    @staticmethod
    def _new_fields(connection_id: str, unit_id: str, start: _Start, request_id: str, now: Any) -> dict[str, Any]:
        auth = start.authorization
        return {
            "id": connection_id,
            "org_unit_id": unit_id,
            "credential_id": start.credential_id,
            "authorization_id": auth.id if auth else "",
            "authorization_url": auth.url if auth else "",
            "state": start.state,
            "state_message": "",
            "create_time": now,
            "update_time": now,
            "disconnect_time": None,
            "request_id": request_id,
            "revoke_pending": False,
        }

    async def _replay(self, uow: UnitOfWork, kind: Kind[C], unit_id: str, request_id: str, payload: tuple[Any, ...],
                      payload_of: Callable[[Any], tuple[Any, ...]]) -> Connected[C] | None:  # fmt: skip
        if not request_id:
            return None
        earlier = await kind.store(uow).by_request_id(unit_id, request_id)
        if earlier is None:
            return None
        if payload_of(earlier) != payload:
            raise AlreadyExists(
                "request_id was already used for a different connection",
                reason="REQUEST_ID_CONFLICT",
                metadata={"request_id": request_id},
            )
        return Connected(earlier, earlier.authorization_url)

    async def _start(self, unit_id: str, provider: Provider, purpose: Purpose, mode: AccessMode | None,
                     credential_id: str, grant: Grant, return_uri: str, connection_id: str) -> _Start:  # fmt: skip
        """Check a given credential, or start the authorization."""
        if credential_id:
            credential = await self._identity.get_credential(unit_id, credential_id)
            matches = (credential.provider is provider and credential.purpose is purpose
                       and (mode is None or credential.access_mode is mode)
                       and credential.organization_wide and credential.active)  # fmt: skip
            if not matches:
                raise FailedPrecondition(
                    f"credential {credential_id!r} is not an ACTIVE organization-wide {provider.value} credential "
                    f"for {purpose.value}" + (f" in {mode.value}" if mode else ""),
                    reason="CREDENTIAL_MISMATCH",
                    metadata={"credential_id": credential_id, "provider": provider.value, "purpose": purpose.value},
                )
            return _Start(credential_id, None)
        authorization = await self._identity.start_authorization(
            AuthorizationRequest(unit_id, provider, purpose, mode, grant, return_uri, f"directory-{connection_id}")
        )
        return _Start("", authorization)

def _calendar_payload(c: CalendarConnection) -> tuple[Any, ...]:
    return (c.provider, c.access_mode, frozenset(c.domains), "" if c.authorization_id else c.credential_id)


def _directory_payload(c: DirectoryConnection) -> tuple[Any, ...]:
    return (c.provider, frozenset(c.domains), "" if c.authorization_id else c.credential_id, c.sync_interval,
            c.max_deactivation_ratio, c.api_server_url)  # fmt: skip


def _conferencing_payload(c: ConferencingConnection) -> tuple[Any, ...]:
    return (c.service, "" if c.authorization_id else c.credential_id)


async def _check_domains_free(holders: Callable[[str, Sequence[str]], Any], unit_id: str,
                              names: Sequence[str], kind: str) -> None:  # fmt: skip
    """Words the error well; the unique constraint is what guarantees it."""
    taken = await holders(unit_id, names)
    if taken:
        domain = next(d for d in names if d in taken)
        raise AlreadyExists(
            f"{domain} is already served by {kind} connection {taken[domain]}",
            reason="DOMAIN_ALREADY_SERVED",
            metadata={"domain": domain, "connection_id": taken[domain]},
        )


def _unsupported(field: str, description: str) -> InvalidArgument:
    return InvalidArgument.field(field, description, reason="UNSUPPORTED_COMBINATION")
