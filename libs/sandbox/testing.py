"""Test helpers: run the sandbox inside the current event loop and drive its admin API.

::

    async with running_sandbox() as sbx:                 # SandboxHandle(base_url, sandbox)
        async with SandboxAdmin(sbx.base_url) as admin:
            token = await admin.issue_token("google", scopes=[...], subject=..., email=...)
            await admin.add_fault(route="google.freeBusy", kind="status", status=429, retry_after=2)
            base = sbx.url("www.googleapis.com/calendar/v3")   # what an adapter is configured with
"""

from __future__ import annotations

import functools
import secrets
import ssl
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
from aiohttp import web

from sandbox.app import create_app
from sandbox.core import Sandbox, pkce_s256


@dataclass
class SandboxHandle:
    """A running sandbox: its base URL (``http://127.0.0.1:PORT``) and the live :class:`Sandbox`."""

    base_url: str
    sandbox: Sandbox

    def url(self, host_path: str) -> str:
        """The sandbox URL standing for ``https://<host_path>`` (e.g. ``graph.microsoft.com/v1.0``)."""
        return f"{self.base_url}/{host_path.removeprefix('https://').lstrip('/')}"

    def client(self, host_path: str, token: str | None = None, **kw: Any) -> httpx.AsyncClient:
        """An httpx client whose base URL is :meth:`url` of ``host_path`` (bearer ``token`` when given)."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        kw.setdefault("verify", ssl_context())
        return httpx.AsyncClient(base_url=self.url(host_path), headers=headers, **kw)


@functools.cache
def ssl_context() -> ssl.SSLContext:
    """One default SSL context for every test client (making one per client costs ~30 ms)."""
    return ssl.create_default_context()


def pkce_pair() -> tuple[str, str]:
    """A fresh ``(code_verifier, S256 code_challenge)``."""
    verifier = secrets.token_urlsafe(48)
    return verifier, pkce_s256(verifier)


@asynccontextmanager
async def running_sandbox(
    fixture_dir: Path | str | None = None,
    port: int = 0,
    *,
    host: str = "127.0.0.1",
    providers: Iterable[str] | None = None,
) -> AsyncIterator[SandboxHandle]:
    """Start the sandbox on ``host:port`` (0 = a free port) in this loop; stop it on exit.

    ``providers`` limits which provider modules load (default: every one present).
    """
    sandbox = Sandbox(fixture_dir)
    app = create_app(sandbox, providers=providers)
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound_host, bound_port = runner.addresses[0][:2]
        yield SandboxHandle(f"http://{bound_host}:{bound_port}", sandbox)
    finally:
        await runner.cleanup()


class SandboxAdmin:
    """A tiny async client for ``/_admin`` (see :mod:`sandbox.admin`). Raises on non-2xx answers."""

    def __init__(self, base_url: str, client: httpx.AsyncClient | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self._own_client = client is None
        self._client = client or httpx.AsyncClient(timeout=30.0, verify=ssl_context())

    async def __aenter__(self) -> SandboxAdmin:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the underlying client when this object made it."""
        if self._own_client:
            await self._client.aclose()

    async def _call(
        self, method: str, path: str, json: Any = None, params: dict[str, Any] | None = None
    ) -> Any:
        response = await self._client.request(
            method, f"{self.base_url}/_admin{path}", json=json, params=params
        )
        response.raise_for_status()
        return response.json()

    async def health(self) -> dict[str, Any]:
        """``GET /_admin/health``."""
        result: dict[str, Any] = await self._call("GET", "/health")
        return result

    async def reset(self) -> None:
        """Reload every provider from the fixture; forget tokens, faults, log, consents and clock offset."""
        await self._call("POST", "/reset")

    async def seed(self, provider: str, data: dict[str, Any]) -> None:
        """Merge ``data`` into ``provider``'s state."""
        await self._call("POST", f"/seed/{provider}", json=data)

    async def bulk_users(self, provider: str, **kw: Any) -> dict[str, Any]:
        """Generate users fast (``tenant``, ``domain``, ``count``, ``prefix``); ``{"created","seconds"}``."""
        result: dict[str, Any] = await self._call("POST", f"/bulk-users/{provider}", json=kw)
        return result

    async def update_user(self, provider: str, user_id: str, **fields: Any) -> dict[str, Any]:
        """Suspend, rename or delete a user through the provider's ``update_user``."""
        result: dict[str, Any] = await self._call("PATCH", f"/users/{provider}/{user_id}", json=fields)
        return result

    async def add_fault(self, **fault: Any) -> str:
        """Inject a fault (``route``, ``provider``, ``calendar``, ``kind``, ``status``, ``retry_after``,
        ``latency_ms``, ``times``, ``body``); its id."""
        result = await self._call("POST", "/faults", json=fault)
        return str(result["id"])

    async def faults(self) -> list[dict[str, Any]]:
        """Pending faults."""
        result = await self._call("GET", "/faults")
        return list(result["faults"])

    async def clear_faults(self) -> None:
        """Remove every pending fault."""
        await self._call("DELETE", "/faults")

    async def requests(
        self, route: str | None = None, provider: str | None = None, since: int | None = None
    ) -> list[dict[str, Any]]:
        """Logged provider requests, filtered by route (exact or glob), provider and ``seq > since``."""
        params = {
            k: v for k, v in {"route": route, "provider": provider, "since": since}.items() if v is not None
        }
        result = await self._call("GET", "/requests", params=params)
        return list(result["requests"])

    async def clear_requests(self) -> None:
        """Forget the request log."""
        await self._call("DELETE", "/requests")

    async def created(self, provider: str) -> dict[str, Any]:
        """What clients created at ``provider`` (events, meetings, spaces)."""
        result: dict[str, Any] = await self._call("GET", f"/created/{provider}")
        return result

    async def issue_token(self, provider: str, **fields: Any) -> str:
        """Mint a token directly (``client_id``, ``scopes``, ``subject``, ``email``, ``tenant``, ``ttl``, ``kind``)."""
        result = await self._call("POST", "/tokens", json={"provider": provider, **fields})
        return str(result["token"])

    async def tokens(self, provider: str | None = None) -> list[dict[str, Any]]:
        """Every grant (token, kind, scopes, subject …)."""
        result = await self._call("GET", "/tokens", params={"provider": provider} if provider else None)
        return list(result["tokens"])

    async def revoke_token(
        self, token: str | None = None, *, provider: str | None = None, subject: str | None = None
    ) -> int:
        """Revoke one token (and its family) or every token of a subject; how many were revoked."""
        body = {"token": token} if token else {"provider": provider, "subject": subject}
        result = await self._call("POST", "/tokens/revoke", json=body)
        return int(result["revoked"])

    async def expire_token(self, token: str) -> None:
        """Make ``token`` expired now."""
        await self._call("POST", "/tokens/expire", json={"token": token})

    async def consent(
        self, provider: str, user: str, grant_only: list[str] | None = None, deny: bool = False
    ) -> None:
        """Decide the next authorization by ``user``: grant only ``grant_only`` scopes, or deny."""
        await self._call(
            "POST", f"/consent/{provider}", json={"user": user, "grant_only": grant_only, "deny": deny}
        )

    async def set_clock(self, offset_seconds: float) -> float:
        """Move the sandbox clock; the sandbox's new ``now``."""
        result = await self._call("POST", "/clock", json={"offset_seconds": offset_seconds})
        return float(result["now"])
