"""Domain objects → protobuf messages (and request enums → domain enums) for the gRPC edge."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp

from kit.convert import to_duration
from kit.errors import InvalidArgument
from rendezvous.common.v1 import common_pb2 as common
from rendezvous.directory.v1 import directory_resources_pb2 as res
from services.directory.adapters.enums import (
    ACCOUNT_STATE_FROM_PB,
    ACCOUNT_STATE_TO_PB,
    CONNECTION_STATE_TO_PB,
    GRANT_FROM_PB,
    MODE_FROM_PB,
    MODE_TO_PB,
    PROVIDER_FROM_PB,
    PROVIDER_TO_PB,
    SERVICE_FROM_PB,
    SERVICE_TO_PB,
    SOURCE_TO_PB,
    SYNC_STATE_TO_PB,
    TRIGGER_TO_PB,
)
from services.directory.domain.model import (
    AccessMode,
    Account,
    AccountState,
    CalendarConnection,
    ConferencingConnection,
    ConferencingService,
    ConnectionKind,
    ConnectionState,
    DirectoryConnection,
    Grant,
    OrganizationalUnit,
    Provider,
    Room,
)
from services.directory.domain.sync import SyncRun
from services.directory.usecases.resolve import Link

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_timestamp(value: datetime | None) -> Timestamp | None:
    """Like ``kit.convert.to_timestamp`` for aware datetimes, without the calendar round trip (this is
    on the ResolveAccount hot path)."""
    if value is None:
        return None
    delta = value - _EPOCH
    return Timestamp(seconds=delta.days * 86400 + delta.seconds, nanos=delta.microseconds * 1000)


def unit_to_pb(unit: OrganizationalUnit) -> res.OrganizationalUnit:
    return res.OrganizationalUnit(
        id=unit.id,
        display_name=unit.display_name,
        invite_sender_address=unit.invite_sender_address,
        create_time=to_timestamp(unit.create_time),
        update_time=to_timestamp(unit.update_time),
    )


def _disconnect_time(state: ConnectionState, value: datetime | None) -> Timestamp | None:
    return to_timestamp(value) if state is ConnectionState.DISCONNECTED else None


def calendar_to_pb(c: CalendarConnection) -> res.CalendarConnection:
    return res.CalendarConnection(
        id=c.id,
        org_unit_id=c.org_unit_id,
        provider=PROVIDER_TO_PB[c.provider],
        access_mode=MODE_TO_PB[c.access_mode],
        domains=list(c.domains),
        credential_id=c.credential_id,
        authorization_id=c.authorization_id,
        state=CONNECTION_STATE_TO_PB[ConnectionKind.CALENDAR][c.state],
        state_message=c.state_message,
        create_time=to_timestamp(c.create_time),
        update_time=to_timestamp(c.update_time),
        disconnect_time=_disconnect_time(c.state, c.disconnect_time),
    )


def directory_to_pb(c: DirectoryConnection, last_run: SyncRun | None) -> res.DirectoryConnection:
    active = c.state is ConnectionState.ACTIVE
    return res.DirectoryConnection(
        id=c.id,
        org_unit_id=c.org_unit_id,
        provider=PROVIDER_TO_PB[c.provider],
        domains=list(c.domains),
        credential_id=c.credential_id,
        authorization_id=c.authorization_id,
        state=CONNECTION_STATE_TO_PB[ConnectionKind.DIRECTORY][c.state],
        state_message=c.state_message,
        sync_interval=to_duration(c.sync_interval),
        max_deactivation_ratio=c.max_deactivation_ratio,
        last_sync_run=run_to_pb(last_run) if last_run else None,
        last_success_time=to_timestamp(c.last_success_time),
        next_sync_time=to_timestamp(c.next_sync_time) if active else None,
        create_time=to_timestamp(c.create_time),
        update_time=to_timestamp(c.update_time),
        disconnect_time=_disconnect_time(c.state, c.disconnect_time),
        api_server_url=c.api_server_url,
    )


def conferencing_to_pb(c: ConferencingConnection) -> res.ConferencingConnection:
    return res.ConferencingConnection(
        id=c.id,
        org_unit_id=c.org_unit_id,
        service=SERVICE_TO_PB[c.service],
        credential_id=c.credential_id,
        authorization_id=c.authorization_id,
        state=CONNECTION_STATE_TO_PB[ConnectionKind.CONFERENCING][c.state],
        state_message=c.state_message,
        create_time=to_timestamp(c.create_time),
        update_time=to_timestamp(c.update_time),
        disconnect_time=_disconnect_time(c.state, c.disconnect_time),
    )


def account_to_pb(a: Account) -> res.Account:
    return res.Account(
        id=a.id,
        org_unit_id=a.org_unit_id,
        email=a.email,
        display_name=a.display_name,
        time_zone=a.time_zone,
        state=ACCOUNT_STATE_TO_PB[a.state],
        source=SOURCE_TO_PB[a.source],
        external_id=a.external_id,
        directory_connection_id=a.directory_connection_id,
        create_time=to_timestamp(a.create_time),
        update_time=to_timestamp(a.update_time),
        deactivate_time=to_timestamp(a.deactivate_time) if a.state is AccountState.DEACTIVATED else None,
    )


def room_to_pb(r: Room) -> res.Room:
    room = res.Room(
        id=r.id,
        org_unit_id=r.org_unit_id,
        email=r.email,
        display_name=r.display_name,
        capacity=r.capacity,
        building=r.building,
        calendar_connection_id=r.calendar_connection_id,
        directory_connection_id=r.directory_connection_id,
        external_id=r.external_id,
        create_time=to_timestamp(r.create_time),
        update_time=to_timestamp(r.update_time),
    )
    if r.floor_number is not None:
        room.floor_number = r.floor_number
    return room


def run_to_pb(run: SyncRun) -> res.SyncRun:
    return res.SyncRun(
        id=run.id,
        org_unit_id=run.org_unit_id,
        directory_connection_id=run.directory_connection_id,
        state=SYNC_STATE_TO_PB[run.state],
        trigger=TRIGGER_TO_PB[run.trigger],
        incremental=run.incremental,
        forced=run.forced,
        listed_count=run.listed_count,
        created_count=run.created_count,
        updated_count=run.updated_count,
        deactivated_count=run.deactivated_count,
        unchanged_count=run.unchanged_count,
        would_deactivate_count=run.would_deactivate_count,
        error_count=run.error_count,
        errors=[res.SyncError(external_id=e.external_id, email=e.email, message=e.message) for e in run.errors],
        stopped_at=run.stopped_at,
        failure_reason=run.failure_reason,
        failure_message=run.failure_message,
        start_time=to_timestamp(run.start_time),
        end_time=to_timestamp(run.end_time),
        create_time=to_timestamp(run.create_time),
        update_time=to_timestamp(run.update_time),
    )


def route_to_pb(c: CalendarConnection) -> res.CalendarRoute:
    return res.CalendarRoute(
        calendar_connection_id=c.id,
        provider=PROVIDER_TO_PB[c.provider],
        access_mode=MODE_TO_PB[c.access_mode],
        credential_id=c.credential_id,
        state=CONNECTION_STATE_TO_PB[ConnectionKind.CALENDAR][c.state],
    )


def link_to_pb(link: Link) -> res.ConferencingLink:
    return res.ConferencingLink(
        conferencing_connection_id=link.connection.id,
        service=SERVICE_TO_PB[link.connection.service],
        credential_id=link.connection.credential_id,
        external_user_id=link.external_user_id,
    )


# ------------------------------------------------------------------------------ request enums


def provider_of(value: int, field: str = "provider") -> Provider:
    try:
        return PROVIDER_FROM_PB[value]
    except KeyError:
        raise InvalidArgument.field(field, f"unknown provider {value}") from None


def mode_of(value: int) -> AccessMode | None:
    if value == common.CALENDAR_ACCESS_MODE_UNSPECIFIED:
        return None
    try:
        return MODE_FROM_PB[value]
    except KeyError:
        raise InvalidArgument.field("access_mode", f"unknown access mode {value}") from None


def service_of(value: int) -> ConferencingService | None:
    if value == common.CONFERENCING_SERVICE_UNSPECIFIED:
        return None
    try:
        return SERVICE_FROM_PB[value]
    except KeyError:
        raise InvalidArgument.field("service", f"unknown conferencing service {value}") from None


def grant_of(value: int) -> Grant:
    try:
        return GRANT_FROM_PB[value]
    except KeyError:
        raise InvalidArgument.field("grant", f"unknown grant {value}") from None


def account_state_of(value: int) -> AccountState | None:
    if value == res.Account.STATE_UNSPECIFIED:
        return None
    try:
        return ACCOUNT_STATE_FROM_PB[value]
    except KeyError:
        raise InvalidArgument.field("state", f"unknown account state {value}") from None
