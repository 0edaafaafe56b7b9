"""Provider clients against the sandbox over real HTTP.

Every test here skips (with the reason) when ``libs/sandbox/testing.py`` is missing or the sandbox
has not loaded the provider module the test needs.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from providers import OAuthApp, ProviderApps, ProviderEndpoints, ProviderHttp, Providers, RetryPolicy

HAVE_SANDBOX = importlib.util.find_spec("sandbox.testing") is not None
SANDBOX_MISSING = "libs/sandbox/testing.py is not there yet"
REDIRECT_URI = "http://127.0.0.1:8054/oauth/callback"


class Sleeps(list[float]):
    """Retry waits recorded instead of slept, so fault tests stay fast."""

    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
async def sbx() -> AsyncIterator[Any]:
    if not HAVE_SANDBOX:
        pytest.skip(SANDBOX_MISSING)
    from sandbox.testing import running_sandbox

    async with running_sandbox() as handle:
        yield handle


@pytest.fixture
async def admin(sbx: Any) -> AsyncIterator[Any]:
    from sandbox.testing import SandboxAdmin

    async with SandboxAdmin(sbx.base_url) as client:
        yield client


@pytest.fixture
def require(sbx: Any) -> Callable[[str], None]:
    """``require("zoom")`` skips the test when the sandbox has no such provider module yet."""

    def check(provider: str) -> None:
        if provider not in sbx.sandbox.modules:
            pytest.skip(f"the sandbox has no {provider!r} provider module yet")

    return check


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def fixture_app(fixture_dir: Path, provider: str) -> OAuthApp | None:
    """The first OAuth client the sandbox fixture seeds for ``provider``."""
    path = fixture_dir / f"{provider}.json"
    if not path.exists():
        return None
    clients = json.loads(path.read_text()).get("clients") or [{}]
    client = clients[0]
    if "client_id" not in client:
        return None
    return OAuthApp(client["client_id"], client.get("client_secret", ""))


@pytest.fixture
async def providers(sbx: Any, sleeps: Sleeps) -> AsyncIterator[Providers]:
    fixture_dir = Path(sbx.sandbox.fixture_dir)
    apps = ProviderApps(
        **{name: fixture_app(fixture_dir, name) for name in ("google", "microsoft", "zoom", "webex")}
    )
    http = ProviderHttp(retry=RetryPolicy(max_retries=3, max_retry_wait=5.0), sleep=sleeps)
    try:
        yield Providers(http, ProviderEndpoints.sandbox(sbx.base_url), apps)
    finally:
        await http.aclose()


@pytest.fixture
def authorize() -> Callable[[str], Any]:
    """Follow an authorization URL the way a browser would, up to the redirect; its query."""

    async def visit(url: str) -> dict[str, str]:
        async with httpx.AsyncClient() as client:
            response = await client.get(url, follow_redirects=False)
        assert response.status_code == 302, response.text
        location = response.headers["location"]
        assert location.startswith(REDIRECT_URI)
        return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}

    return visit
