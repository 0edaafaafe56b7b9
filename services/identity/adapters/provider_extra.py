"""Provider calls identity needs that ``libs/providers`` does not have (yet): Google userinfo and
tokeninfo, Webex ``/people/me``, Zoom ``/oauth/revoke``, SuccessFactors ``/oauth/idp``.

They go through the same ``ProviderHttp`` (timeouts, retries, error classification) and the
providers' own error-body readers. Candidates to move into ``libs/providers`` by its owner.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from providers import ProviderEndpoints, ProviderHttp, ProviderResponseError
from providers.error_bodies import google_error, successfactors_error, webex_error, zoom_error
from providers.successfactors import SuccessFactors


@dataclass(frozen=True)
class AccountInfo:
    """Who an access token belongs to."""

    sub: str
    email: str = ""
    org_id: str = ""


def _text(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    return value if isinstance(value, str) else ""


class GoogleAccountInfo:
    """``GET www.googleapis.com/oauth2/v3/userinfo`` and ``POST oauth2.googleapis.com/tokeninfo``."""

    def __init__(self, http: ProviderHttp, endpoints: ProviderEndpoints) -> None:
        self._http = http
        self._www = endpoints.google_calendar.removesuffix("/calendar/v3")
        self._oauth2 = endpoints.google_oauth2

    async def userinfo(self, access_token: str) -> AccountInfo:
        """Needs the ``email`` or ``profile`` scope."""
        body = await self._http.request_json(
            "google", "GET", f"{self._www}/oauth2/v3/userinfo", errors=google_error, token=access_token,
            idempotent=True,
        )  # fmt: skip
        return self._account(body)

    async def tokeninfo(self, access_token: str) -> AccountInfo:
        """Works for any access token (Rendezvous sends its own token to Google, never a user's input)."""
        body = await self._http.request_json(
            "google", "POST", f"{self._oauth2}/tokeninfo", errors=google_error, form={"access_token": access_token},
            idempotent=True, secrets=(access_token,),
        )  # fmt: skip
        return self._account(body)

    @staticmethod
    def _account(body: dict[str, Any]) -> AccountInfo:
        sub = _text(body, "sub")
        if not sub:
            raise ProviderResponseError("google: the token names no user (no sub)", provider="google")
        return AccountInfo(sub, _text(body, "email"))


class WebexMe:
    """``GET webexapis.com/v1/people/me``."""

    def __init__(self, http: ProviderHttp, endpoints: ProviderEndpoints) -> None:
        self._http = http
        self._base = endpoints.webex_api

    async def me(self, access_token: str) -> AccountInfo:
        body = await self._http.request_json(
            "webex", "GET", f"{self._base}/people/me", errors=webex_error, token=access_token, idempotent=True
        )
        emails = body.get("emails")
        email = next((e for e in emails if isinstance(e, str)), "") if isinstance(emails, list) else ""
        person = _text(body, "id")
        if not person:
            raise ProviderResponseError("webex: /people/me without an id", provider="webex")
        return AccountInfo(person, email, _text(body, "orgId"))


class ZoomRevocation:
    """``POST zoom.us/oauth/revoke?token=…`` with the app's Basic credentials."""

    def __init__(self, http: ProviderHttp, endpoints: ProviderEndpoints) -> None:
        self._http = http
        self._base = endpoints.zoom_oauth

    async def revoke(self, token: str, client_id: str, client_secret: str) -> None:
        await self._http.request(
            "zoom", "POST", f"{self._base}/oauth/revoke", errors=zoom_error, params={"token": token},
            basic_auth=(client_id, client_secret), idempotent=True, token_endpoint=True, secrets=(token,),
        )  # fmt: skip


class SuccessFactorsIdp:
    """``POST {api-server}/oauth/idp``: SuccessFactors signs a SAML assertion with the client's private key.

    SAP's documented helper for the SAML bearer grant; the key travels to SuccessFactors over TLS.
    """

    def __init__(self, http: ProviderHttp, successfactors: SuccessFactors) -> None:
        self._http = http
        self._sf = successfactors

    async def assertion(self, api_server_url: str, client_id: str, user_id: str, private_key: str) -> str:
        base = self._sf.base_url(api_server_url)
        response = await self._http.request(
            "successfactors", "POST", f"{base}/oauth/idp", errors=successfactors_error,
            form={"client_id": client_id, "user_id": user_id, "token_url": f"{base}/oauth/token",
                  "private_key": private_key},
            idempotent=True, token_endpoint=True, secrets=(private_key,),
        )  # fmt: skip
        text = response.text.strip()
        if not text:
            raise ProviderResponseError("successfactors: /oauth/idp answered no assertion", provider="successfactors")
        return text
