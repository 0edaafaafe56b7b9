"""SAP SuccessFactors: OAuth 2.0 SAML bearer tokens and the OData v2 ``User`` entity."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from providers._base import ODATA_SAFE, ProviderClient, with_query
from providers._parse import bad, obj_at, objects, opt_str, req_str, time_at
from providers.endpoints import ProviderEndpoints
from providers.error_bodies import successfactors_error
from providers.http import ProviderHttp
from providers.oauth import TokenSet, parse_token_response
from providers.pages import Page, same_origin
from providers.times import odata_datetimeoffset, parse_odata_date

SAML2_BEARER = "urn:ietf:params:oauth:grant-type:saml2-bearer"
USER_FIELDS = (
    "userId",
    "username",
    "email",
    "status",
    "firstName",
    "lastName",
    "displayName",
    "lastModifiedDateTime",
)
#: Every status; without a status filter SuccessFactors lists active users only.
ALL_STATUSES = "status in 't','f','T','F','e','d'"
ACTIVE_STATUSES = frozenset({"t", "T"})


@dataclass(frozen=True)
class SuccessFactorsUser:
    """A SuccessFactors user; ``active`` is derived from ``status`` (``t``/``T``)."""

    user_id: str
    username: str | None
    email: str | None
    status: str | None
    active: bool
    first_name: str | None
    last_name: str | None
    display_name: str | None
    last_modified: datetime | None
    raw: Mapping[str, Any] = field(repr=False)


class SuccessFactors(ProviderClient):
    """SuccessFactors calls against a connection's API server.

    When ``endpoints.successfactors_api`` is set (the sandbox) it replaces every ``api_server``.
    """

    provider = "successfactors"

    def __init__(self, http: ProviderHttp, endpoints: ProviderEndpoints) -> None:
        super().__init__(http, successfactors_error)
        self._override = endpoints.successfactors_api

    def base_url(self, api_server: str) -> str:
        """The base URL for ``api_server`` (a host name or a URL)."""
        base = self._override or (api_server if "://" in api_server else f"https://{api_server}")
        return base.rstrip("/")

    async def saml_bearer_token(
        self, api_server: str, company_id: str, client_id: str, assertion: str
    ) -> TokenSet:
        """An access token for a signed, base64-encoded SAML assertion."""
        form = {
            "client_id": client_id,
            "company_id": company_id,
            "grant_type": SAML2_BEARER,
            "assertion": assertion,
        }
        body = await self._json(
            "POST",
            f"{self.base_url(api_server)}/oauth/token",
            form=form,
            idempotent=True,
            token_endpoint=True,
        )
        return parse_token_response(self.provider, body, self.http.now())

    async def idp_assertion(self, api_server: str, client_id: str, user_id: str, private_key: str) -> str:
        """A SAML assertion for ``user_id`` signed by SuccessFactors itself (``POST /oauth/idp``).

        SAP's documented helper for the SAML bearer grant; the client's private key travels to
        SuccessFactors over TLS and is redacted from any error.
        """
        base = self.base_url(api_server)
        form = {
            "client_id": client_id,
            "user_id": user_id,
            "token_url": f"{base}/oauth/token",
            "private_key": private_key,
        }
        response = await self._send(
            "POST", f"{base}/oauth/idp", form=form, idempotent=True, token_endpoint=True, secrets=(private_key,)
        )
        assertion = response.text.strip()
        if not assertion:
            raise bad(self.provider, "/oauth/idp answered no assertion")
        return assertion

    async def iter_users(
        self,
        token: str,
        api_server: str,
        modified_since: datetime | None = None,
        include_inactive: bool = True,
        *,
        cursor: str | None = None,
    ) -> AsyncIterator[Page[SuccessFactorsUser]]:
        """Yield ``User`` pages, following ``d.__next`` verbatim.

        ``include_inactive`` adds the status filter without which inactive users are left out;
        ``modified_since`` asks only for users changed after it.
        """
        base = self.base_url(api_server)
        filters = [ALL_STATUSES] if include_inactive else []
        if modified_since is not None:
            filters.append(f"lastModifiedDateTime gt {odata_datetimeoffset(modified_since)}")
        params = {"$select": ",".join(USER_FIELDS)}
        if filters:
            params["$filter"] = " and ".join(filters)
        params["$format"] = "json"
        url = cursor or with_query(f"{base}/odata/v2/User", params, safe=ODATA_SAFE)
        number = 0
        while True:
            answer = await self._json(
                "GET", same_origin(self.provider, url, base), token=token, idempotent=True
            )
            number += 1
            d = obj_at(answer, "d")
            next_link = opt_str(d, "__next")
            users = tuple(self._user(row) for row in objects(self.provider, d, "results"))
            yield Page(items=users, number=number, cursor=cursor, next_cursor=next_link)
            if next_link is None:
                return
            url = cursor = next_link

    def _user(self, row: dict[str, Any]) -> SuccessFactorsUser:
        status = opt_str(row, "status")
        modified = row.get("lastModifiedDateTime")
        return SuccessFactorsUser(
            user_id=req_str(self.provider, row, "userId"),
            username=opt_str(row, "username"),
            email=opt_str(row, "email"),
            status=status,
            active=status in ACTIVE_STATUSES,
            first_name=opt_str(row, "firstName"),
            last_name=opt_str(row, "lastName"),
            display_name=opt_str(row, "displayName"),
            last_modified=time_at(self.provider, modified, parse_odata_date) if modified else None,
            raw=row,
        )
