"""Where each provider lives (base URLs) and which OAuth app Rendezvous uses with it.

Both are plain values handed in by the service's settings; this package reads no environment.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ProviderEndpoints:
    """One base URL per real upstream host, without a trailing slash.

    ``successfactors_api`` is None in production, where every SuccessFactors connection brings its own
    API server; when set (the sandbox), it replaces every connection's API server.
    """

    google_accounts: str = "https://accounts.google.com"
    google_oauth2: str = "https://oauth2.googleapis.com"
    google_openid: str = "https://openidconnect.googleapis.com/v1"
    google_calendar: str = "https://www.googleapis.com/calendar/v3"
    google_admin: str = "https://admin.googleapis.com/admin/directory/v1"
    google_meet: str = "https://meet.googleapis.com/v2"
    microsoft_login: str = "https://login.microsoftonline.com"
    microsoft_graph: str = "https://graph.microsoft.com/v1.0"
    zoom_oauth: str = "https://zoom.us"
    zoom_api: str = "https://api.zoom.us/v2"
    webex_api: str = "https://webexapis.com/v1"
    successfactors_api: str | None = None

    @classmethod
    def sandbox(cls, base_url: str) -> ProviderEndpoints:
        """Every upstream under the local emulator: ``<base_url>/<real-host>/<real-path>``."""
        base = base_url.rstrip("/")
        return cls(
            google_accounts=f"{base}/accounts.google.com",
            google_oauth2=f"{base}/oauth2.googleapis.com",
            google_openid=f"{base}/openidconnect.googleapis.com/v1",
            google_calendar=f"{base}/www.googleapis.com/calendar/v3",
            google_admin=f"{base}/admin.googleapis.com/admin/directory/v1",
            google_meet=f"{base}/meet.googleapis.com/v2",
            microsoft_login=f"{base}/login.microsoftonline.com",
            microsoft_graph=f"{base}/graph.microsoft.com/v1.0",
            zoom_oauth=f"{base}/zoom.us",
            zoom_api=f"{base}/api.zoom.us/v2",
            webex_api=f"{base}/webexapis.com/v1",
            successfactors_api=f"{base}/successfactors",
        )


@dataclass(frozen=True)
class OAuthApp:
    """An OAuth client registered with a provider. The secret never shows in a repr."""

    client_id: str
    client_secret: str = field(repr=False)


@dataclass(frozen=True)
class ProviderApps:
    """Rendezvous's OAuth apps, one per provider; None where the deployment has not registered one.

    SuccessFactors has none here: its client id travels with each connection.
    """

    google: OAuthApp | None = None
    microsoft: OAuthApp | None = None
    zoom: OAuthApp | None = None
    webex: OAuthApp | None = None
