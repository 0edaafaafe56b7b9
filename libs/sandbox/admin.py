"""The admin API under ``/_admin`` (JSON, no auth — a test tool).

::

    GET    /_admin/health                          {"status":"ok","providers":[...]}
    POST   /_admin/reset                           reload every provider from the fixture directory
    POST   /_admin/seed/{provider}                 body merged through the module's seed()
    POST   /_admin/bulk-users/{provider}           {"tenant","domain","count","prefix"} -> {"created","seconds"}
    PATCH  /_admin/users/{provider}/{user_id}      {fields} -> the user (404 when unknown)
    POST   /_admin/faults                          {route?,provider?,calendar?,kind,status?,retry_after?,
                                                    latency_ms?,times?,body?} -> {"id"}
    GET    /_admin/faults                          pending faults
    DELETE /_admin/faults                          clear them
    GET    /_admin/requests?route=&provider=&since=  logged provider requests (since = a seq number)
    DELETE /_admin/requests
    GET    /_admin/created/{provider}              what clients created (events, meetings, spaces)
    POST   /_admin/tokens                          {"provider","client_id","scopes","subject","email",
                                                    "tenant","ttl","kind"} -> a grant (test shortcut)
    GET    /_admin/tokens?provider=                every grant
    POST   /_admin/tokens/revoke                   {"token"} or {"provider","subject"} -> {"revoked": n}
    POST   /_admin/tokens/expire                   {"token"}
    POST   /_admin/consent/{provider}              {"user","grant_only":[...]|null,"deny":bool}
    POST   /_admin/clock                           {"offset_seconds": n} -> {"offset_seconds","now"}
    GET    /_admin/clock
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any

from aiohttp import web

from sandbox.core import FAULT_KINDS, Sandbox, json_response

AdminHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _bad(message: str, status: int = 400) -> web.Response:
    return json_response({"error": message}, status=status)


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.body_exists:
        return {}
    try:
        data = await request.json()
    except ValueError as exc:
        raise web.HTTPBadRequest(
            text='{"error":"body is not JSON"}', content_type="application/json"
        ) from exc
    if not isinstance(data, dict):
        raise web.HTTPBadRequest(text='{"error":"body must be an object"}', content_type="application/json")
    return data


def setup(app: web.Application, sandbox: Sandbox) -> None:
    """Add the admin routes for ``sandbox`` to ``app``."""

    def provider_or_404(request: web.Request) -> str:
        name = request.match_info["provider"]
        if name not in sandbox.modules:
            raise web.HTTPNotFound(
                text=f'{{"error":"unknown provider {name}"}}', content_type="application/json"
            )
        return name

    def optional(name: str, request: web.Request) -> Callable[..., Any]:
        provider = provider_or_404(request)
        func = getattr(sandbox.module(provider), name, None)
        if func is None:
            raise web.HTTPNotImplemented(
                text=f'{{"error":"{provider} has no {name}"}}', content_type="application/json"
            )
        return func

    async def health(request: web.Request) -> web.Response:
        return json_response({"status": "ok", "providers": sorted(sandbox.modules)})

    async def reset(request: web.Request) -> web.Response:
        sandbox.reset()
        return json_response({"status": "reset"})

    async def seed(request: web.Request) -> web.Response:
        provider = provider_or_404(request)
        try:
            sandbox.seed(provider, await _body(request))
        except (KeyError, ValueError, TypeError) as exc:
            return _bad(f"seed failed: {exc!r}")
        return json_response({"status": "seeded", "provider": provider})

    async def bulk_users(request: web.Request) -> web.Response:
        func = optional("bulk_users", request)
        provider = request.match_info["provider"]
        started = time.perf_counter()
        try:
            created = func(sandbox.state[provider], **await _body(request))
        except (KeyError, ValueError, TypeError) as exc:
            return _bad(f"bulk-users failed: {exc!r}")
        return json_response({"created": created, "seconds": round(time.perf_counter() - started, 3)})

    async def update_user(request: web.Request) -> web.Response:
        func = optional("update_user", request)
        provider = request.match_info["provider"]
        try:
            user = func(sandbox.state[provider], request.match_info["user_id"], await _body(request))
        except (KeyError, ValueError, TypeError) as exc:
            return _bad(f"update failed: {exc!r}")
        if user is None:
            return _bad("no such user", status=404)
        return json_response(user)

    async def add_fault(request: web.Request) -> web.Response:
        body = await _body(request)
        allowed = {
            "route",
            "provider",
            "calendar",
            "kind",
            "status",
            "retry_after",
            "latency_ms",
            "times",
            "body",
        }
        unknown = set(body) - allowed
        if unknown:
            return _bad(f"unknown fault fields: {sorted(unknown)}")
        if body.get("kind") not in FAULT_KINDS:
            return _bad(f"kind must be one of {list(FAULT_KINDS)}")
        try:
            fault_id = sandbox.faults.add(**body)
        except (TypeError, ValueError) as exc:
            return _bad(str(exc))
        return json_response({"id": fault_id})

    async def list_faults(request: web.Request) -> web.Response:
        return json_response({"faults": [asdict(f) for f in sandbox.faults.all()]})

    async def clear_faults(request: web.Request) -> web.Response:
        sandbox.faults.clear()
        return json_response({"status": "cleared"})

    async def requests(request: web.Request) -> web.Response:
        since = request.query.get("since")
        try:
            since_seq = float(since) if since else None
        except ValueError:
            return _bad("since must be a sequence number")
        entries = sandbox.log.query(
            route=request.query.get("route") or None,
            provider=request.query.get("provider") or None,
            since=since_seq,
        )
        return json_response({"requests": entries})

    async def clear_requests(request: web.Request) -> web.Response:
        sandbox.log.clear()
        return json_response({"status": "cleared"})

    async def created(request: web.Request) -> web.Response:
        func = optional("created", request)
        return json_response(func(sandbox.state[request.match_info["provider"]]))

    async def issue_token(request: web.Request) -> web.Response:
        body = await _body(request)
        provider = body.get("provider")
        if provider not in sandbox.modules:
            return _bad("provider must name a loaded provider")
        grant = sandbox.tokens.issue(
            provider=provider,
            kind=body.get("kind", "access"),
            client_id=body.get("client_id", "sandbox-admin"),
            scopes=body.get("scopes", []),
            subject=body.get("subject"),
            email=body.get("email"),
            tenant=body.get("tenant"),
            ttl=float(body.get("ttl", 3600)),
            family=body.get("family", ""),
        )
        return json_response(grant.as_json())

    async def list_tokens(request: web.Request) -> web.Response:
        grants = sandbox.tokens.all(request.query.get("provider") or None)
        return json_response({"tokens": [g.as_json() for g in grants]})

    async def revoke_token(request: web.Request) -> web.Response:
        body = await _body(request)
        if "token" in body:
            return json_response({"revoked": int(sandbox.tokens.revoke(body["token"]))})
        if "provider" in body and "subject" in body:
            return json_response(
                {"revoked": sandbox.tokens.revoke_subject(body["provider"], body["subject"])}
            )
        return _bad('give {"token"} or {"provider","subject"}')

    async def expire_token(request: web.Request) -> web.Response:
        body = await _body(request)
        if sandbox.tokens.get(body.get("token", "")) is None:
            return _bad("unknown token", status=404)
        sandbox.tokens.expire(body["token"])
        return json_response({"status": "expired"})

    async def consent(request: web.Request) -> web.Response:
        provider = provider_or_404(request)
        body = await _body(request)
        if not body.get("user"):
            return _bad("user is required")
        grant_only = body.get("grant_only")
        if grant_only is not None and not isinstance(grant_only, list):
            return _bad("grant_only must be a list or null")
        decision = sandbox.consents.set(provider, body["user"], grant_only, bool(body.get("deny", False)))
        return json_response(
            {
                "user": decision.user,
                "grant_only": None if decision.grant_only is None else sorted(decision.grant_only),
                "deny": decision.deny,
            }
        )

    async def set_clock(request: web.Request) -> web.Response:
        body = await _body(request)
        try:
            sandbox.clock_offset = float(body.get("offset_seconds", 0))
        except (TypeError, ValueError):
            return _bad("offset_seconds must be a number")
        return await get_clock(request)

    async def get_clock(request: web.Request) -> web.Response:
        return json_response({"offset_seconds": sandbox.clock_offset, "now": sandbox.clock()})

    app.router.add_get("/_admin/health", health)
    app.router.add_post("/_admin/reset", reset)
    app.router.add_post("/_admin/seed/{provider}", seed)
    app.router.add_post("/_admin/bulk-users/{provider}", bulk_users)
    app.router.add_patch("/_admin/users/{provider}/{user_id}", update_user)
    app.router.add_post("/_admin/faults", add_fault)
    app.router.add_get("/_admin/faults", list_faults)
    app.router.add_delete("/_admin/faults", clear_faults)
    app.router.add_get("/_admin/requests", requests)
    app.router.add_delete("/_admin/requests", clear_requests)
    app.router.add_get("/_admin/created/{provider}", created)
    app.router.add_post("/_admin/tokens", issue_token)
    app.router.add_get("/_admin/tokens", list_tokens)
    app.router.add_post("/_admin/tokens/revoke", revoke_token)
    app.router.add_post("/_admin/tokens/expire", expire_token)
    app.router.add_post("/_admin/consent/{provider}", consent)
    app.router.add_post("/_admin/clock", set_clock)
    app.router.add_get("/_admin/clock", get_clock)
