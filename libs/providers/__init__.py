"""Async HTTP clients for the providers Rendezvous talks to: Google, Microsoft, Zoom, Webex and
SAP SuccessFactors.

Configuration comes in as values (``ProviderEndpoints``, ``ProviderApps``); all traffic goes through
one ``ProviderHttp`` (timeouts, retries, error translation). ``Providers`` bundles the clients::

    async with ProviderHttp() as http:
        providers = Providers(http, ProviderEndpoints.sandbox(base_url), apps)
        busy = await providers.google.calendar.free_busy(token, ids, start, end)
"""

from __future__ import annotations

from providers.endpoints import OAuthApp, ProviderApps, ProviderEndpoints
from providers.errors import (
    InvalidGrant,
    OAuthError,
    ProviderAuthError,
    ProviderBadRequest,
    ProviderError,
    ProviderNotFound,
    ProviderPermissionError,
    ProviderRateLimited,
    ProviderResponseError,
    ProviderUnavailable,
)
from providers.google import Google
from providers.http import ProviderHttp, RetryPolicy, Timeouts
from providers.microsoft import Microsoft
from providers.oauth import Pkce, TokenSet, new_pkce, pkce_challenge
from providers.pages import DeltaPage, Page
from providers.successfactors import SuccessFactors
from providers.times import Interval
from providers.webex import Webex
from providers.zoom import Zoom

__all__ = [
    "DeltaPage",
    "Google",
    "Interval",
    "InvalidGrant",
    "Microsoft",
    "OAuthApp",
    "OAuthError",
    "Page",
    "Pkce",
    "ProviderApps",
    "ProviderAuthError",
    "ProviderBadRequest",
    "ProviderEndpoints",
    "ProviderError",
    "ProviderHttp",
    "ProviderNotFound",
    "ProviderPermissionError",
    "ProviderRateLimited",
    "ProviderResponseError",
    "ProviderUnavailable",
    "Providers",
    "RetryPolicy",
    "SuccessFactors",
    "Timeouts",
    "TokenSet",
    "Webex",
    "Zoom",
    "new_pkce",
    "pkce_challenge",
]


class Providers:
    """Every provider client, sharing one ``ProviderHttp``."""

    def __init__(
        self, http: ProviderHttp, endpoints: ProviderEndpoints, apps: ProviderApps | None = None
    ) -> None:
        apps = apps or ProviderApps()
        self.http = http
        self.endpoints = endpoints
        self.apps = apps
        self.google = Google(http, endpoints, apps.google)
        self.microsoft = Microsoft(http, endpoints, apps.microsoft)
        self.zoom = Zoom(http, endpoints, apps.zoom)
        self.webex = Webex(http, endpoints, apps.webex)
        self.successfactors = SuccessFactors(http, endpoints)
