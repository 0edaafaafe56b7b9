"""The plumbing every provider client shares: its name, its error reader and ``ProviderHttp``."""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import quote, urlencode

import httpx

from providers.error_bodies import ErrorParser
from providers.http import JSONObject, ProviderHttp


class ProviderClient:
    """Base of every provider client: sends through ``http`` with the provider's error reader."""

    provider: ClassVar[str]

    def __init__(self, http: ProviderHttp, error_parser: ErrorParser) -> None:
        self.http = http
        self._errors = error_parser

    async def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return await self.http.request(self.provider, method, url, errors=self._errors, **kwargs)

    async def _json(self, method: str, url: str, **kwargs: Any) -> JSONObject:
        return await self.http.request_json(self.provider, method, url, errors=self._errors, **kwargs)


def segment(value: str) -> str:
    """``value`` escaped as one URL path segment (``@`` stays readable)."""
    return quote(value, safe="@")


def with_query(url: str, params: dict[str, str], *, safe: str = "") -> str:
    """``url`` with ``params`` as its query string (spaces as ``%20``; ``safe`` characters kept)."""
    return f"{url}?{urlencode(params, safe=safe, quote_via=quote)}"


#: Characters OData query options keep literal: ``$select=id,mail&$filter=status in 't','f'``.
ODATA_SAFE = "$,'():"
