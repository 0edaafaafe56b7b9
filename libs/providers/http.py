"""``ProviderHttp``: the one HTTP client every provider module goes through.

It keeps one long-lived ``httpx.AsyncClient`` per upstream (scheme, host and port), applies timeouts,
retries what is safe to retry, and turns every failure into an exception from ``providers.errors``.

Retries (at most ``RetryPolicy.max_retries`` after the first attempt):

- 429, and Google's 403 ``rateLimitExceeded``: always — the provider refused the request unprocessed;
- 500/502/503/504, read/write timeouts, dropped connections: only for calls marked ``idempotent`` or
  carrying an ``idempotency_key`` (a non-idempotent create may have happened before the failure);
- connection refused, connect and pool timeouts: always — the request never left.

The wait is the provider's ``Retry-After`` (seconds or an HTTP date) when it sent one, exponential
backoff with jitter otherwise. A ``Retry-After`` longer than ``max_retry_wait`` is not waited out: the
error is raised at once with ``retry_after`` set, so a caller holding a deadline can decide.

Logs name the provider, method, host and path only — never query strings, headers or bodies.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from providers.error_bodies import ErrorDetail, ErrorParser
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
    redact,
)
from providers.times import parse_retry_after

logger = logging.getLogger(__name__)

USER_AGENT = "rendezvous-providers/0.1"
_SECRET_FIELDS = frozenset(
    {"client_secret", "code", "code_verifier", "refresh_token", "assertion", "client_assertion", "token"}
)
_UNAVAILABLE_STATUSES = frozenset({500, 502, 503, 504})
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_RETRYABLE_TRANSPORT = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)

Sleep = Callable[[float], Awaitable[None]]
JSONObject = dict[str, Any]


@dataclass(frozen=True)
class Timeouts:
    """Seconds allowed to connect, to wait for each read or write, and to get a pooled connection."""

    connect: float = 5.0
    read: float = 30.0
    write: float = 30.0
    pool: float = 5.0


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long ``ProviderHttp`` retries a failed call."""

    max_retries: int = 3
    max_retry_wait: float = 30.0
    base_backoff: float = 0.5
    max_backoff: float = 8.0


class ProviderHttp:
    """Sends provider requests with timeouts and bounded retries; raises ``ProviderError``s.

    ``transport`` (e.g. ``httpx.MockTransport``), ``sleep``, ``now`` and ``jitter`` are injectable for
    tests. Use ``async with`` or call ``aclose()`` on shutdown.
    """

    def __init__(
        self,
        *,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = asyncio.sleep,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        jitter: Callable[[], float] = random.random,
        user_agent: str = USER_AGENT,
    ) -> None:
        t = timeouts or Timeouts()
        self._timeout = httpx.Timeout(connect=t.connect, read=t.read, write=t.write, pool=t.pool)
        self.retry = retry or RetryPolicy()
        self._transport = transport
        self._sleep = sleep
        self.now = now
        self._jitter = jitter
        self._user_agent = user_agent
        self._clients: dict[str, httpx.AsyncClient] = {}

    async def __aenter__(self) -> ProviderHttp:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close every upstream's connection pool."""
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()

    def client_for(self, url: str | httpx.URL) -> httpx.AsyncClient:
        """The long-lived client for ``url``'s upstream, created on first use."""
        parsed = httpx.URL(url)
        key = f"{parsed.scheme}://{parsed.netloc.decode('ascii')}"
        client = self._clients.get(key)
        if client is None:
            client = httpx.AsyncClient(
                timeout=self._timeout,
                transport=self._transport,
                headers={"User-Agent": self._user_agent},
                follow_redirects=False,
            )
            self._clients[key] = client
        return client

    async def request(
        self,
        provider: str,
        method: str,
        url: str,
        *,
        errors: ErrorParser,
        token: str | None = None,
        params: Mapping[str, str | int] | None = None,
        json_body: Any = None,
        form: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        basic_auth: tuple[str, str] | None = None,
        idempotent: bool = False,
        idempotency_key: str | None = None,
        token_endpoint: bool = False,
        secrets: Iterable[str] = (),
    ) -> httpx.Response:
        """Send one logical call (with retries); return the 2xx response or raise a ``ProviderError``.

        ``token`` goes out as ``Authorization: Bearer``; ``errors`` reads the provider's error body;
        ``token_endpoint`` makes a 400/401 an ``OAuthError``. The token, Basic-auth password, sensitive
        form or query values (``client_secret``, ``code``, ``refresh_token``, ``assertion``...) and
        ``secrets`` are redacted from error messages.
        """
        sent = [*(form or {}).items(), *((k, str(v)) for k, v in (params or {}).items())]
        hidden = {*secrets, *(v for k, v in sent if k in _SECRET_FIELDS)}
        all_headers = dict(headers or {})
        if token is not None:
            hidden.add(token)
            all_headers["Authorization"] = f"Bearer {token}"
        auth = None
        if basic_auth is not None:
            hidden.add(basic_auth[1])
            auth = httpx.BasicAuth(*basic_auth)
        content = None
        if json_body is not None:
            content = json.dumps(json_body, separators=(",", ":")).encode()
            all_headers["Content-Type"] = "application/json"
        retryable = idempotent or idempotency_key is not None
        client = self.client_for(url)
        where = _where(url)

        for attempt in range(self.retry.max_retries + 1):
            last = attempt == self.retry.max_retries
            try:
                response = await client.request(
                    method, url, params=params, content=content, data=form, headers=all_headers, auth=auth
                )
            except httpx.TransportError as exc:
                error: ProviderError = ProviderUnavailable(
                    f"{provider}: {method} {where} failed: {type(exc).__name__}", provider=provider
                )
                safe = isinstance(exc, _NOT_SENT) or (retryable and isinstance(exc, _RETRYABLE_TRANSPORT))
                if last or not safe:
                    raise error from exc
                await self._wait(provider, method, where, attempt, type(exc).__name__, None)
                continue
            if response.is_success:
                return response
            error = classify(provider, response, errors(response), token_endpoint, hidden, self.now())
            retry_after = getattr(error, "retry_after", None)
            should_retry = isinstance(error, ProviderRateLimited) or (
                retryable and isinstance(error, ProviderUnavailable)
            )
            if last or not should_retry:
                raise error
            if retry_after is not None and retry_after > self.retry.max_retry_wait:
                raise error
            await self._wait(provider, method, where, attempt, str(response.status_code), retry_after)
        raise AssertionError("unreachable")  # pragma: no cover

    async def request_json(self, provider: str, method: str, url: str, **kwargs: Any) -> JSONObject:
        """``request`` and decode the JSON object it answered (``{}`` for an empty body)."""
        response = await self.request(provider, method, url, **kwargs)
        return json_object(provider, response)

    async def _wait(
        self, provider: str, method: str, where: str, attempt: int, why: str, retry_after: float | None
    ) -> None:
        if retry_after is None:
            ceiling = min(self.retry.max_backoff, self.retry.base_backoff * 2**attempt)
            delay = ceiling / 2 + self._jitter() * ceiling / 2
        else:
            delay = retry_after
        logger.warning(
            "provider call retrying",
            extra={
                "provider": provider,
                "method": method,
                "where": where,
                "attempt": attempt + 1,
                "cause": why,
                "wait_seconds": round(delay, 3),
            },
        )
        await self._sleep(delay)


def classify(
    provider: str,
    response: httpx.Response,
    detail: ErrorDetail,
    token_endpoint: bool,
    secrets: Iterable[str],
    now: datetime,
) -> ProviderError:
    """The exception for a non-2xx ``response``, with a short message free of ``secrets``."""
    status = response.status_code
    code = detail.code
    said = f": {detail.message}" if detail.message else ""
    message = redact(f"{provider}: HTTP {status}{f' {code}' if code else ''}{said}", secrets)
    common: dict[str, Any] = {"provider": provider, "status": status, "request_id": detail.request_id}
    retry_after = parse_retry_after(response.headers.get("retry-after"), now)
    if status == 429 or (status == 403 and detail.rate_limited):
        return ProviderRateLimited(message, provider_code=code, retry_after=retry_after, **common)
    if status >= 500:
        return ProviderUnavailable(message, provider_code=code, retry_after=retry_after, **common)
    oauth = detail.oauth_error or ("invalid_request" if token_endpoint and status in (400, 401) else None)
    if oauth is not None:
        description = redact(detail.message, secrets) if detail.message else None
        kind = InvalidGrant if oauth == "invalid_grant" else OAuthError
        return kind(message, error=oauth, description=description, **common)
    if status == 401:
        return ProviderAuthError(message, provider_code=code, **common)
    if status == 403 or detail.missing_permission:
        return ProviderPermissionError(
            message, provider_code=code, missing_permission=detail.missing_permission, **common
        )
    if status in (404, 410):
        return ProviderNotFound(message, provider_code=code, **common)
    if 400 <= status < 500:
        return ProviderBadRequest(message, provider_code=code, **common)
    return ProviderResponseError(message, provider_code=code, **common)


def json_object(provider: str, response: httpx.Response) -> JSONObject:
    """The response's JSON object; ``{}`` for an empty body; ``ProviderResponseError`` otherwise."""
    if not response.content:
        return {}
    try:
        body = json.loads(response.content)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ProviderResponseError(
            f"{provider}: {_where(str(response.request.url))} did not answer a JSON object",
            provider=provider,
            status=response.status_code,
        )
    return body


def _where(url: str) -> str:
    """``host/path`` of ``url`` — what logs and messages may show (no query string)."""
    parsed = httpx.URL(url)
    return f"{parsed.host}{f':{parsed.port}' if parsed.port else ''}{parsed.path}"
