"""Microsoft: the identity platform and Graph, grouped under one ``Microsoft`` client."""

from __future__ import annotations

from providers.endpoints import OAuthApp, ProviderEndpoints
from providers.http import ProviderHttp
from providers.microsoft.calendar import (
    GraphCalendar,
    GraphEvent,
    OnlineMeeting,
    ScheduleError,
    ScheduleItem,
    ScheduleResult,
    ScheduleStatus,
    schedule_windows,
)
from providers.microsoft.directory import (
    GraphDirectory,
    GraphOrganization,
    GraphRoom,
    GraphUser,
    VerifiedDomain,
)
from providers.microsoft.identity import (
    GRAPH_DEFAULT_SCOPE,
    MicrosoftIdentity,
    MicrosoftIdentityPlatform,
    decode_id_token_unverified,
)

__all__ = [
    "GRAPH_DEFAULT_SCOPE",
    "GraphCalendar",
    "GraphDirectory",
    "GraphEvent",
    "GraphOrganization",
    "GraphRoom",
    "GraphUser",
    "Microsoft",
    "MicrosoftIdentity",
    "MicrosoftIdentityPlatform",
    "OnlineMeeting",
    "ScheduleError",
    "ScheduleItem",
    "ScheduleResult",
    "ScheduleStatus",
    "VerifiedDomain",
    "decode_id_token_unverified",
    "schedule_windows",
]


class Microsoft:
    """Every Microsoft API Rendezvous uses: ``identity``, ``calendar`` (Graph), ``directory`` (Graph)."""

    def __init__(self, http: ProviderHttp, endpoints: ProviderEndpoints, app: OAuthApp | None = None) -> None:
        self.identity = MicrosoftIdentityPlatform(http, endpoints, app)
        self.calendar = GraphCalendar(http, endpoints)
        self.directory = GraphDirectory(http, endpoints)
