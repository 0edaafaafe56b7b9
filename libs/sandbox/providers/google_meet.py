"""Meet REST API v2: ``POST /v2/spaces`` (spaces.create) and ``GET /v2/spaces/{space}`` (google.rpc errors)."""

from __future__ import annotations

import secrets
import string
from typing import Any

from aiohttp import web

from sandbox.core import Sandbox, json_response, read_json, route
from sandbox.providers.google_common import (
    MEET_CREATE,
    MEET_READ,
    NAME,
    authorize,
    format_millis,
    rpc_error,
    rpc_error_body,
)
from sandbox.providers.google_events import meeting_code
from sandbox.providers.google_state import State

BASE = "/meet.googleapis.com/v2"
SERVICE = "meet.googleapis.com"
ACCESS_TYPES = ("OPEN", "TRUSTED", "RESTRICTED")
ENTRY_POINT_ACCESS = ("ALL", "CREATOR_APP_ONLY")


def _space_name() -> str:
    alphabet = string.ascii_letters + string.digits
    return "spaces/" + "".join(secrets.choice(alphabet) for _ in range(12))


def setup(app: web.Application, sandbox: Sandbox) -> None:
    """Add the Meet routes."""

    @route("google.meet.spaces.create", NAME, error_body=rpc_error_body)
    async def create(request: web.Request) -> web.Response:
        grant = authorize(
            request,
            sandbox,
            MEET_CREATE,
            service=SERVICE,
            method="google.apps.meet.v2.SpacesService.CreateSpace",
            rpc=True,
        )
        if isinstance(grant, web.Response):
            return grant
        try:
            body = await read_json(request) or {}
        except ValueError:
            return rpc_error(400, "Invalid JSON payload received.")
        if not isinstance(body, dict):
            return rpc_error(400, "Invalid JSON payload received. Expected an object.")
        config = {"accessType": "TRUSTED", "entryPointAccess": "ALL"}
        requested = body.get("config") or {}
        if not isinstance(requested, dict):
            return rpc_error(400, "Invalid value at 'space.config'.")
        if requested.get("accessType", "TRUSTED") not in ACCESS_TYPES:
            return rpc_error(
                400, f"Invalid value at 'space.config.access_type' ({requested.get('accessType')})"
            )
        if requested.get("entryPointAccess", "ALL") not in ENTRY_POINT_ACCESS:
            return rpc_error(
                400,
                f"Invalid value at 'space.config.entry_point_access' ({requested.get('entryPointAccess')})",
            )
        config.update({k: v for k, v in requested.items() if k in ("accessType", "entryPointAccess")})
        code = meeting_code()
        space: dict[str, Any] = {
            "name": _space_name(),
            "meetingUri": f"https://meet.google.com/{code}",
            "meetingCode": code,
            "config": config,
        }
        state: State = sandbox.state[NAME]
        state.spaces[space["name"]] = space
        state.created_spaces.append(
            {
                "space": space,
                "creator": grant.email,
                "clientId": grant.client_id,
                "createdAt": format_millis(sandbox.clock()),
            }
        )
        return json_response(space)

    @route("google.meet.spaces.get", NAME, error_body=rpc_error_body)
    async def get(request: web.Request) -> web.Response:
        grant = authorize(
            request,
            sandbox,
            MEET_READ,
            service=SERVICE,
            method="google.apps.meet.v2.SpacesService.GetSpace",
            rpc=True,
        )
        if isinstance(grant, web.Response):
            return grant
        state: State = sandbox.state[NAME]
        key = request.match_info["space"]
        space = state.spaces.get(f"spaces/{key}") or next(
            (s for s in state.spaces.values() if s["meetingCode"] == key), None
        )
        if space is None:
            return rpc_error(404, "Requested entity was not found.")
        return json_response(space)

    app.router.add_post(f"{BASE}/spaces", create)
    app.router.add_get(f"{BASE}/spaces/{{space}}", get)
