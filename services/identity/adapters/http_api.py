"""Identity's HTTP endpoint (aiohttp): where providers redirect browsers, and where links point.

- ``GET|POST /oauth/callback`` — the OAuth redirect URI (``<public url>/oauth/callback``): completes the
  authorization, then sends the browser to the authorization's ``return_uri`` with
  ``authorization_id``, ``state`` (COMPLETED or FAILED) and, on failure, ``error`` (the reason) added;
  without a return URI it shows a short page.
- ``GET /confirm?token=…`` — redeems a confirmation link and shows the outcome.
- ``GET /healthz`` — liveness.

Pages never echo a token or code, and every value shown is HTML-escaped.
"""

from __future__ import annotations

import html
import logging
from urllib.parse import urlencode, urlsplit, urlunsplit

from aiohttp import web

from kit.errors import FailedPrecondition, InvalidArgument, NotFound, RendezvousError, Unavailable
from services.identity.usecases.authorizations import AuthorizationUseCases, Redirect
from services.identity.usecases.verification import VerificationUseCases

log = logging.getLogger("rendezvous.identity.http")

_STATUS_BY_REASON = {"CONFIRMATION_TOKEN_USED": 409, "CONFIRMATION_TOKEN_EXPIRED": 410, "STATE_EXPIRED": 410}


def _status(error: RendezvousError) -> int:
    if error.reason in _STATUS_BY_REASON:
        return _STATUS_BY_REASON[error.reason]
    if isinstance(error, InvalidArgument | FailedPrecondition):
        return 400
    if isinstance(error, NotFound):
        return 404
    if isinstance(error, Unavailable):
        return 503
    return 500


def _page(title: str, text: str, status: int = 200) -> web.Response:
    body = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
        f"<body><h1>{html.escape(title)}</h1><p>{html.escape(text)}</p></body></html>"
    )
    return web.Response(
        text=body, status=status, content_type="text/html",
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )  # fmt: skip


def _add_query(uri: str, params: dict[str, str]) -> str:
    parts = urlsplit(uri)
    query = "&".join(p for p in (parts.query, urlencode(params)) if p)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def create_http_app(authorizations: AuthorizationUseCases, verification: VerificationUseCases) -> web.Application:
    async def oauth_callback(request: web.Request) -> web.StreamResponse:
        params = dict(request.query)
        if request.method == "POST":  # response_mode=form_post
            params.update({k: str(v) for k, v in (await request.post()).items()})
        redirect = Redirect(
            state=params.get("state", ""),
            code=params.get("code", ""),
            admin_consent=params.get("admin_consent", "").lower() == "true",
            tenant=params.get("tenant", ""),
            scope=params.get("scope", ""),
            error=params.get("error", ""),
            error_description=params.get("error_description", ""),
        )
        try:
            authorization, _ = await authorizations.complete(redirect)
        except RendezvousError as error:
            authorization_id = error.metadata.get("authorization_id", "")
            target = await authorizations.return_uri(authorization_id) if authorization_id else ""
            log.info("authorization redirect failed", extra={"reason": error.reason, "authorization_id": authorization_id})
            if target:
                raise web.HTTPSeeOther(
                    _add_query(target, {"authorization_id": authorization_id, "state": "FAILED", "error": error.reason})
                ) from None
            return _page("Authorization failed", f"{error.reason}: {error.message}", _status(error))
        if authorization.return_uri:
            raise web.HTTPSeeOther(
                _add_query(authorization.return_uri, {"authorization_id": authorization.id, "state": "COMPLETED"})
            )
        return _page("Connected", "Rendezvous is now connected. You can close this window.")

    async def confirm(request: web.Request) -> web.StreamResponse:
        try:
            confirmation = await verification.confirm(request.query.get("token", ""))
        except RendezvousError as error:
            return _page("Confirmation failed", error.message, _status(error))
        return _page("Email confirmed", f"{confirmation.email} is confirmed. You can close this window.")

    async def healthz(request: web.Request) -> web.StreamResponse:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_route("GET", "/oauth/callback", oauth_callback)
    app.router.add_route("POST", "/oauth/callback", oauth_callback)
    app.router.add_get("/confirm", confirm)
    app.router.add_get("/healthz", healthz)
    return app


class HttpEndpoint:
    """Runs the aiohttp application on ``host:port`` (0 = a free port) inside the current loop."""

    def __init__(self, app: web.Application, host: str, port: int) -> None:
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=2.0)
        self._host = host
        self._port = port
        self.port = 0

    async def start(self) -> int:
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        log.info("http listening", extra={"address": f"{self._host}:{self.port}"})
        return self.port

    async def stop(self) -> None:
        await self._runner.cleanup()
