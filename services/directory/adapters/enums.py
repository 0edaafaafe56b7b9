"""Protobuf enum values ↔ the domain's enums (for the gRPC adapters only)."""

from __future__ import annotations

from typing import Any

from rendezvous.common.v1 import common_pb2 as common
from rendezvous.directory.v1 import directory_resources_pb2 as res
from services.directory.domain.model import (
    AccessMode,
    AccountSource,
    AccountState,
    ConferencingService,
    ConnectionKind,
    ConnectionState,
    Grant,
    Provider,
)
from services.directory.domain.sync import SyncState, SyncTrigger


def _inverse(mapping: dict[Any, Any]) -> dict[Any, Any]:
    return {v: k for k, v in mapping.items()}


PROVIDER_TO_PB = {
    Provider.NONE: common.PROVIDER_UNSPECIFIED,
    Provider.GOOGLE: common.PROVIDER_GOOGLE,
    Provider.MICROSOFT: common.PROVIDER_MICROSOFT,
    Provider.ZOOM: common.PROVIDER_ZOOM,
    Provider.WEBEX: common.PROVIDER_WEBEX,
    Provider.SUCCESSFACTORS: common.PROVIDER_SUCCESSFACTORS,
}
PROVIDER_FROM_PB = _inverse(PROVIDER_TO_PB)

MODE_TO_PB = {
    AccessMode.READ_WRITE: common.CALENDAR_ACCESS_MODE_READ_WRITE,
    AccessMode.FREE_BUSY: common.CALENDAR_ACCESS_MODE_FREE_BUSY,
    AccessMode.NO_ACCESS: common.CALENDAR_ACCESS_MODE_NO_ACCESS,
}
MODE_FROM_PB = _inverse(MODE_TO_PB)

SERVICE_TO_PB = {
    ConferencingService.GOOGLE_MEET: common.CONFERENCING_SERVICE_GOOGLE_MEET,
    ConferencingService.MICROSOFT_TEAMS: common.CONFERENCING_SERVICE_MICROSOFT_TEAMS,
    ConferencingService.ZOOM: common.CONFERENCING_SERVICE_ZOOM,
    ConferencingService.WEBEX: common.CONFERENCING_SERVICE_WEBEX,
}
SERVICE_FROM_PB = _inverse(SERVICE_TO_PB)

GRANT_TO_PB = {
    Grant.AUTHORIZATION_CODE: common.AUTHORIZATION_GRANT_AUTHORIZATION_CODE,
    Grant.ADMIN_CONSENT: common.AUTHORIZATION_GRANT_ADMIN_CONSENT,
}
GRANT_FROM_PB = {**_inverse(GRANT_TO_PB), common.AUTHORIZATION_GRANT_UNSPECIFIED: Grant.AUTHORIZATION_CODE}

# The three connection messages name their states alike.
CONNECTION_STATE_TO_PB: dict[ConnectionKind, dict[ConnectionState, Any]] = {
    ConnectionKind.CALENDAR: {s: res.CalendarConnection.State.Value(f"STATE_{s.value}") for s in ConnectionState},
    ConnectionKind.DIRECTORY: {s: res.DirectoryConnection.State.Value(f"STATE_{s.value}") for s in ConnectionState},
    ConnectionKind.CONFERENCING: {s: res.ConferencingConnection.State.Value(f"STATE_{s.value}") for s in ConnectionState},
}

ACCOUNT_STATE_TO_PB = {s: res.Account.State.Value(f"STATE_{s.value}") for s in AccountState}
ACCOUNT_STATE_FROM_PB = _inverse(ACCOUNT_STATE_TO_PB)
SOURCE_TO_PB = {s: res.Account.Source.Value(f"SOURCE_{s.value}") for s in AccountSource}
SYNC_STATE_TO_PB = {s: res.SyncRun.State.Value(f"STATE_{s.value}") for s in SyncState}
TRIGGER_TO_PB = {t: res.SyncRun.Trigger.Value(f"TRIGGER_{t.value}") for t in SyncTrigger}
