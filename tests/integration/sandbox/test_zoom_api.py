"""Zoom API v2 users and meetings over HTTP, with a scope test per endpoint."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from sandbox.testing import SandboxAdmin, SandboxHandle, running_sandbox

ACCOUNT = "zoom-acct-1"
ALEX, ALEX_ID = "alex@contoso.example", "zA1lexW1lber4Contoso01"
MEGAN = "megan@contoso.example"
MEETING = {"topic": "Sync", "type": 2, "start_time": "2026-11-03T10:00:00Z", "duration": 30, "timezone": "Europe/Berlin",
           "settings": {"waiting_room": False, "meeting_invitees": [{"email": "bob@x.example"}]}}  # fmt: skip


@pytest.fixture
async def sbx() -> AsyncIterator[SandboxHandle]:
    async with running_sandbox(providers=["zoom"]) as handle:
        yield handle


@pytest.fixture
async def admin(sbx: SandboxHandle) -> AsyncIterator[SandboxAdmin]:
    async with SandboxAdmin(sbx.base_url) as client:
        yield client


async def client_for(
    sbx: SandboxHandle, admin: SandboxAdmin, scopes: list[str], subject: str | None = ALEX_ID
) -> httpx.AsyncClient:
    token = await admin.issue_token("zoom", scopes=scopes, subject=subject, tenant=ACCOUNT)
    return sbx.client("api.zoom.us/v2", token)


@pytest.fixture
async def api(sbx: SandboxHandle, admin: SandboxAdmin) -> AsyncIterator[httpx.AsyncClient]:
    async with await client_for(sbx, admin, ["meeting:write:admin", "user:read:admin"]) as client:
        yield client


async def test_get_user_by_me_id_and_email(api: httpx.AsyncClient) -> None:
    me = (await api.get("/users/me")).json()
    assert me["id"] == ALEX_ID and me["email"] == ALEX and me["account_id"] == ACCOUNT
    assert {
        "first_name",
        "last_name",
        "display_name",
        "type",
        "role_name",
        "pmi",
        "timezone",
        "status",
    } <= set(me)
    assert (await api.get(f"/users/{ALEX_ID}")).json() == me == (await api.get(f"/users/{ALEX}")).json()


async def test_unknown_user_is_1001(api: httpx.AsyncClient) -> None:
    response = await api.get("/users/ghost@contoso.example")
    assert response.status_code == 404
    assert response.json() == {"code": 1001, "message": "User does not exist: ghost@contoso.example."}


async def test_list_users_pages_with_next_page_token(api: httpx.AsyncClient) -> None:
    seen: list[str] = []
    token = ""
    pages = []
    while True:
        page = (await api.get("/users", params={"page_size": 3, "next_page_token": token})).json()
        pages.append(page)
        seen += [u["email"] for u in page["users"]]
        token = page["next_page_token"]
        if not token:
            break
    assert pages[0]["total_records"] == 7 and pages[0]["page_size"] == 3 and pages[0]["page_count"] == 3
    assert [len(p["users"]) for p in pages] == [3, 3, 1] and len(set(seen)) == 7
    inactive = (await api.get("/users", params={"status": "inactive"})).json()
    assert [u["email"] for u in inactive["users"]] == ["lee@contoso.example"]
    assert (await api.get("/users", params={"page_size": 1000})).json()["page_size"] == 300
    assert (await api.get("/users", params={"status": "weird"})).status_code == 400


async def test_create_meeting_returns_201_with_int64_id_and_urls(
    api: httpx.AsyncClient, admin: SandboxAdmin
) -> None:
    response = await api.post("/users/me/meetings", json=MEETING)
    assert response.status_code == 201
    meeting = response.json()
    assert isinstance(meeting["id"], int) and meeting["id"] > 2**32
    assert meeting["join_url"].startswith(f"https://zoom.us/j/{meeting['id']}?pwd=")
    assert meeting["start_url"].startswith(f"https://zoom.us/s/{meeting['id']}?zak=")
    assert meeting["password"] and meeting["host_email"] == ALEX and meeting["host_id"] == ALEX_ID
    assert meeting["start_time"] == "2026-11-03T10:00:00Z" and meeting["duration"] == 30
    assert meeting["settings"]["waiting_room"] is False and meeting["settings"]["meeting_invitees"] == [
        {"email": "bob@x.example"}
    ]
    created = (await admin.created("zoom"))["meetings"]
    assert created[0]["meeting"]["id"] == meeting["id"] and created[0]["request"]["topic"] == "Sync"


async def test_local_start_time_uses_the_timezone_and_admin_creates_for_others(
    api: httpx.AsyncClient,
) -> None:
    response = await api.post(
        f"/users/{MEGAN}/meetings", json={**MEETING, "start_time": "2026-11-03T10:00:00"}
    )
    meeting = response.json()
    assert response.status_code == 201 and meeting["host_email"] == MEGAN
    assert meeting["start_time"] == "2026-11-03T09:00:00Z"


@pytest.mark.parametrize(
    "change",
    [
        {"type": 5},
        {"duration": "long"},
        {"start_time": "next tuesday"},
        {"timezone": "Mars/Base"},
        {"topic": "x" * 201},
    ],
)
async def test_meeting_validation_is_code_300(api: httpx.AsyncClient, change: dict[str, Any]) -> None:
    response = await api.post("/users/me/meetings", json={**MEETING, **change})
    assert response.status_code == 400 and response.json()["code"] == 300
    assert response.json()["message"] == "Validation Failed." and response.json()["errors"]


async def test_get_patch_delete_meeting(api: httpx.AsyncClient, admin: SandboxAdmin) -> None:
    meeting = (await api.post("/users/me/meetings", json=MEETING)).json()
    path = f"/meetings/{meeting['id']}"
    assert (await api.get(path)).json()["join_url"] == meeting["join_url"]
    patched = await api.patch(path, json={"topic": "Renamed", "start_time": "2026-11-04T10:00:00Z"})
    assert patched.status_code == 204
    assert (await api.get(path)).json()["topic"] == "Renamed"
    assert (await api.delete(path)).status_code == 204
    gone = await api.get(path)
    assert gone.status_code == 404 and gone.json()["code"] == 3001
    assert (await admin.created("zoom"))["meetings"][0]["deleted"] is True


async def test_daily_create_limit_is_429(api: httpx.AsyncClient, sbx: SandboxHandle) -> None:
    state = sbx.sandbox.state["zoom"]
    day = next(iter(state.daily_creates), None)
    assert day is None
    for _ in range(2):
        assert (await api.post("/users/me/meetings", json=MEETING)).status_code == 201
    key = next(iter(state.daily_creates))
    state.daily_creates[key] = 100
    refused = await api.post("/users/me/meetings", json=MEETING)
    assert refused.status_code == 429 and refused.json()["code"] == 429
    assert "daily rate limit of (100)" in refused.json()["message"]


async def test_tokens_401_code_124(sbx: SandboxHandle, admin: SandboxAdmin) -> None:
    async with sbx.client("api.zoom.us/v2", "bogus") as bogus:
        response = await bogus.get("/users/me")
    assert response.status_code == 401 and response.json() == {
        "code": 124,
        "message": "Invalid access token.",
    }
    token = await admin.issue_token("zoom", scopes=["user:read:admin"], subject=ALEX_ID, tenant=ACCOUNT)
    await admin.expire_token(token)
    async with sbx.client("api.zoom.us/v2", token) as expired:
        response = await expired.get("/users/me")
    assert response.json() == {"code": 124, "message": "Access token is expired."}


async def test_other_accounts_users_are_invisible(sbx: SandboxHandle, admin: SandboxAdmin) -> None:
    await admin.seed(
        "zoom",
        {
            "accounts": [{"id": "other-acct"}],
            "users": [{"email": "x@other.example", "account_id": "other-acct"}],
        },
    )
    async with await client_for(sbx, admin, ["user:read:admin"]) as api:
        assert (await api.get("/users/x@other.example")).json()["code"] == 1001


async def test_server_fault_and_rate_limit_fault(admin: SandboxAdmin, api: httpx.AsyncClient) -> None:
    await admin.add_fault(route="zoom.meetings.create", kind="status", status=429, retry_after=2)
    limited = await api.post("/users/me/meetings", json=MEETING)
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "2"
    assert limited.json()["code"] == 429 and limited.headers["X-RateLimit-Category"] == "Medium"
    await admin.add_fault(route="zoom.meetings.create", kind="status", status=500)
    assert (await api.post("/users/me/meetings", json=MEETING)).status_code == 500
    assert (await api.post("/users/me/meetings", json=MEETING)).status_code == 201


# (name, method, path, body, scopes that work, a scope that does not)
SCOPED = [
    ("users.get other", "GET", f"/users/{MEGAN}", None, ["user:read:admin", "user:read:user:admin"], "user:read"),
    ("users.get me", "GET", "/users/me", None, ["user:read", "user:read:user", "user:read:admin"], "meeting:write:admin"),
    ("users.list", "GET", "/users", None, ["user:read:admin", "user:read:list_users:admin"], "user:read"),
    ("meetings.create other", "POST", f"/users/{MEGAN}/meetings", MEETING,
     ["meeting:write:admin", "meeting:write:meeting:admin"], "meeting:write"),
    ("meetings.create me", "POST", "/users/me/meetings", MEETING,
     ["meeting:write", "meeting:write:meeting", "meeting:write:admin"], "user:read:admin"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "method", "path", "body", "accepted", "wrong"), SCOPED, ids=[s[0] for s in SCOPED]
)
async def test_scopes_per_endpoint(
    sbx: SandboxHandle,
    admin: SandboxAdmin,
    name: str,
    method: str,
    path: str,
    body: Any,
    accepted: list[str],
    wrong: str,
) -> None:
    async with await client_for(sbx, admin, [wrong]) as api:
        refused = await api.request(method, path, json=body)
    assert refused.status_code == 400 and refused.json()["code"] == 4711
    assert refused.json()["message"].startswith("Invalid access token, does not contain scopes:[")
    for scope in accepted:
        async with await client_for(sbx, admin, [scope]) as api:
            response = await api.request(method, path, json=body)
        assert response.status_code < 300, (scope, response.text)


@pytest.mark.parametrize(
    ("method", "scope"),
    [("GET", "user:read:admin"), ("PATCH", "meeting:read:admin"), ("DELETE", "meeting:read:admin")],
)
async def test_meeting_endpoints_need_meeting_scopes(
    sbx: SandboxHandle, admin: SandboxAdmin, api: httpx.AsyncClient, method: str, scope: str
) -> None:
    meeting = (await api.post("/users/me/meetings", json=MEETING)).json()
    async with await client_for(sbx, admin, [scope]) as limited:
        response = await limited.request(
            method, f"/meetings/{meeting['id']}", json={} if method == "PATCH" else None
        )
    assert response.status_code == 400 and response.json()["code"] == 4711


async def test_patch_moves_the_meeting_and_an_unknown_meeting_is_3001(api: httpx.AsyncClient) -> None:
    meeting = (await api.post("/users/me/meetings", json=MEETING)).json()
    moved = await api.patch(f"/meetings/{meeting['id']}", json={
        "topic": "Moved", "start_time": "2026-11-05T14:30:00Z", "duration": 45, "timezone": "Europe/Paris"})
    assert moved.status_code == 204 and moved.content == b""
    after = (await api.get(f"/meetings/{meeting['id']}")).json()
    assert (after["topic"], after["start_time"], after["duration"], after["timezone"]) == (
        "Moved", "2026-11-05T14:30:00Z", 45, "Europe/Paris")
    assert after["join_url"] == meeting["join_url"]
    unknown = await api.patch("/meetings/99999999999", json={"topic": "x"})
    assert unknown.status_code == 404 and unknown.json()["code"] == 3001
