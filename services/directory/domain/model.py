"""Directory domain model: organizational units, service connections, accounts, rooms, sync runs.

Pure Python: no I/O, no framework, no clock. Times come in as arguments.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from kit.errors import Validator
from kit.validation import is_email, normalize_email

MAX_DISPLAY_NAME = 200
MAX_ACCOUNT_NAME = 256


class Provider(StrEnum):
    """A company whose APIs Rendezvous talks to; NONE only for a NO_ACCESS calendar connection."""

    NONE = "NONE"
    GOOGLE = "GOOGLE"
    MICROSOFT = "MICROSOFT"
    ZOOM = "ZOOM"
    WEBEX = "WEBEX"
    SUCCESSFACTORS = "SUCCESSFACTORS"


class AccessMode(StrEnum):
    READ_WRITE = "READ_WRITE"
    FREE_BUSY = "FREE_BUSY"
    NO_ACCESS = "NO_ACCESS"


class ConferencingService(StrEnum):
    GOOGLE_MEET = "GOOGLE_MEET"
    MICROSOFT_TEAMS = "MICROSOFT_TEAMS"
    ZOOM = "ZOOM"
    WEBEX = "WEBEX"

    @property
    def provider(self) -> Provider:
        return _SERVICE_PROVIDER[self]


_SERVICE_PROVIDER = {
    ConferencingService.GOOGLE_MEET: Provider.GOOGLE,
    ConferencingService.MICROSOFT_TEAMS: Provider.MICROSOFT,
    ConferencingService.ZOOM: Provider.ZOOM,
    ConferencingService.WEBEX: Provider.WEBEX,
}


class Grant(StrEnum):
    AUTHORIZATION_CODE = "AUTHORIZATION_CODE"
    ADMIN_CONSENT = "ADMIN_CONSENT"


class Purpose(StrEnum):
    """What an identity credential is for."""

    CALENDAR = "CALENDAR"
    DIRECTORY = "DIRECTORY"
    CONFERENCING = "CONFERENCING"


class ConnectionState(StrEnum):
    """Lifecycle shared by calendar, directory and conferencing connections."""

    PENDING_AUTHORIZATION = "PENDING_AUTHORIZATION"
    ACTIVE = "ACTIVE"
    NEEDS_REAUTHORIZATION = "NEEDS_REAUTHORIZATION"
    DISCONNECTED = "DISCONNECTED"


class ConnectionKind(StrEnum):
    CALENDAR = "CALENDAR"
    DIRECTORY = "DIRECTORY"
    CONFERENCING = "CONFERENCING"


class AccountState(StrEnum):
    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"
    DEACTIVATED = "DEACTIVATED"


class AccountSource(StrEnum):
    MANUAL = "MANUAL"
    GOOGLE_WORKSPACE = "GOOGLE_WORKSPACE"
    MICROSOFT_ENTRA = "MICROSOFT_ENTRA"
    SUCCESSFACTORS = "SUCCESSFACTORS"


SOURCE_OF_DIRECTORY = {
    Provider.GOOGLE: AccountSource.GOOGLE_WORKSPACE,
    Provider.MICROSOFT: AccountSource.MICROSOFT_ENTRA,
    Provider.SUCCESSFACTORS: AccountSource.SUCCESSFACTORS,
}


@dataclass(frozen=True)
class OrganizationalUnit:
    """A customer organization (or part of one) whose services are connected to Rendezvous.

    ``invite_sender_address`` is the mailbox emailed invites come from and replies go to; its
    domain is the unit's choice (a subdomain of theirs whose mail reaches Rendezvous).
    """

    id: str
    display_name: str
    invite_sender_address: str
    create_time: datetime
    update_time: datetime
    request_id: str = ""

    def renamed(self, display_name: str, at: datetime) -> OrganizationalUnit:
        return replace(self, display_name=display_name, update_time=at)

    def with_sender(self, address: str, at: datetime) -> OrganizationalUnit:
        return replace(self, invite_sender_address=address, update_time=at)


@dataclass(frozen=True)
class Connection:
    """What every service connection has: a unit, a credential (or the authorization that will make
    one), a lifecycle state, and whether its credential still has to be revoked at identity."""

    id: str
    org_unit_id: str
    credential_id: str
    authorization_id: str
    authorization_url: str
    state: ConnectionState
    state_message: str
    create_time: datetime
    update_time: datetime
    disconnect_time: datetime | None
    request_id: str
    revoke_pending: bool

    @property
    def pending(self) -> bool:
        return self.state is ConnectionState.PENDING_AUTHORIZATION

    @property
    def disconnected(self) -> bool:
        return self.state is ConnectionState.DISCONNECTED


@dataclass(frozen=True)
class CalendarConnection(Connection):
    """A calendar service serving some email domains of a unit in one access mode."""

    provider: Provider
    access_mode: AccessMode
    domains: tuple[str, ...]


@dataclass(frozen=True)
class DirectoryConnection(Connection):
    """A directory whose users in ``domains`` are onboarded as accounts and offboarded again.

    ``cursor`` is where the next incremental read starts (a Graph delta link, a SuccessFactors
    high-water mark); empty means the next read is a full one.
    """

    provider: Provider
    domains: tuple[str, ...]
    sync_interval: timedelta
    max_deactivation_ratio: float
    api_server_url: str
    cursor: str
    next_sync_time: datetime | None
    last_sync_run_id: str
    last_success_time: datetime | None
    last_full_sync_time: datetime | None

    @property
    def source(self) -> AccountSource:
        return SOURCE_OF_DIRECTORY[self.provider]


@dataclass(frozen=True)
class ConferencingConnection(Connection):
    """A conferencing service whose users are linked to accounts by email address."""

    service: ConferencingService


@dataclass(frozen=True)
class Account:
    """A user of a unit. ``external_id`` is the directory's stable id, so a rename keeps the account."""

    id: str
    org_unit_id: str
    email: str
    display_name: str
    time_zone: str
    state: AccountState
    source: AccountSource
    external_id: str
    directory_connection_id: str
    create_time: datetime
    update_time: datetime
    deactivate_time: datetime | None
    request_id: str = ""


@dataclass(frozen=True)
class Room:
    """A bookable room synced from the directory; ``calendar_connection_id`` is filled on reads."""

    id: str
    org_unit_id: str
    email: str
    display_name: str
    capacity: int
    building: str
    floor_number: int | None
    directory_connection_id: str
    external_id: str
    create_time: datetime
    update_time: datetime
    calendar_connection_id: str = ""


def check_display_name(v: Validator, value: str, field: str = "display_name") -> str:
    value = value.strip()
    v.check(bool(value), field, "is required")
    v.check(len(value) <= MAX_DISPLAY_NAME, field, f"must be at most {MAX_DISPLAY_NAME} characters")
    return value


def check_sender(v: Validator, value: str, field: str = "invite_sender_address") -> str:
    value = normalize_email(value)
    v.check(is_email(value), field, "must be an email address such as invites@scheduling.example.com")
    return value
