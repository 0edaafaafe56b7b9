"""A fake upstream for provider clients: ``httpx.MockTransport`` that records requests and replays
queued answers, plus a ``ProviderHttp`` whose sleeps are recorded instead of slept."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest

from providers import OAuthApp, ProviderApps, ProviderEndpoints, ProviderHttp, RetryPolicy

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
Handler = Callable[[httpx.Request], httpx.Response]


class Upstream:
    """Records every request; answers from ``handler`` if set, else from the queue (FIFO)."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.sleeps: list[float] = []
        self.handler: Handler | None = None
        self._queue: list[httpx.Response | Exception] = []

    def reply(
        self,
        status: int = 200,
        json_body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        text: str | None = None,
    ) -> None:
        """Queue one answer."""
        if json_body is not None:
            self._queue.append(httpx.Response(status, json=json_body, headers=headers))
        else:
            self._queue.append(httpx.Response(status, text=text or "", headers=headers))

    def fail(self, exc: Exception) -> None:
        """Queue a transport failure."""
        self._queue.append(exc)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.handler is not None:
            return self.handler(request)
        if not self._queue:
            raise AssertionError(f"unexpected request {request.method} {request.url}")
        answer = self._queue.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    # Reading what was sent.
    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]

    def json(self, index: int = -1) -> Any:
        return json.loads(self.requests[index].content)

    def form(self, index: int = -1) -> dict[str, str]:
        request = self.requests[index]
        assert request.headers["content-type"] == "application/x-www-form-urlencoded"
        return dict(parse_qsl(request.content.decode(), keep_blank_values=True))

    def query(self, index: int = -1) -> dict[str, str]:
        return dict(self.requests[index].url.params)

    def url(self, index: int = -1) -> str:
        """scheme://host/path, without the query."""
        return str(self.requests[index].url.copy_with(query=None))


@pytest.fixture
def upstream() -> Upstream:
    return Upstream()


@pytest.fixture
async def http(upstream: Upstream) -> AsyncIterator[ProviderHttp]:
    client = ProviderHttp(
        transport=httpx.MockTransport(upstream),
        retry=RetryPolicy(max_retries=3, max_retry_wait=5.0),
        sleep=upstream.sleep,
        now=lambda: NOW,
        jitter=lambda: 0.5,
    )
    yield client
    await client.aclose()


@pytest.fixture
def endpoints() -> ProviderEndpoints:
    return ProviderEndpoints()


@pytest.fixture
def apps() -> ProviderApps:
    return ProviderApps(
        google=OAuthApp("google-client", "google-secret-123"),
        microsoft=OAuthApp("ms-client", "ms-secret-456"),
        zoom=OAuthApp("zoom-client", "zoom-secret-789"),
        webex=OAuthApp("webex-client", "webex-secret-000"),
    )


@pytest.fixture
def now() -> datetime:
    """The instant ``http.now()`` reports."""
    return NOW
