"""A scope test per Google endpoint: a token without the needed scope is refused the way Google does."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from sandbox.testing import SandboxAdmin, SandboxHandle, running_sandbox

S = "https://www.googleapis.com/auth/"
GRACE, GRACE_ID = "grace@northwind.example", "103400000000000000002"
WINDOW = {"timeMin": "2026-10-01T00:00:00Z", "timeMax": "2026-10-02T00:00:00Z", "items": [{"id": GRACE}]}
EVENT = {"start": {"dateTime": "2026-11-03T10:00:00Z"}, "end": {"dateTime": "2026-11-03T11:00:00Z"}}
CAL = "/www.googleapis.com/calendar/v3"
DIR = "/admin.googleapis.com/admin/directory/v1"

# (name, method, path, json body, accepted scopes, a plausible but insufficient scope)
ENDPOINTS: list[tuple[str, str, str, Any, list[str], str]] = [
    ("freeBusy", "POST", f"{CAL}/freeBusy", WINDOW,
     ["calendar", "calendar.readonly", "calendar.freebusy", "calendar.events.freebusy"], "calendar.calendarlist.readonly"),
    ("calendarList.list", "GET", f"{CAL}/users/me/calendarList", None,
     ["calendar", "calendar.readonly", "calendar.calendarlist", "calendar.calendarlist.readonly"], "calendar.events.freebusy"),
    ("events.insert", "POST", f"{CAL}/calendars/primary/events", EVENT,
     ["calendar", "calendar.events", "calendar.events.owned"], "calendar.readonly"),
    ("events.get", "GET", f"{CAL}/calendars/primary/events/gracebudget00001", None,
     ["calendar", "calendar.readonly", "calendar.events", "calendar.events.readonly"], "calendar.freebusy"),
    ("events.patch", "PATCH", f"{CAL}/calendars/primary/events/gracebudget00001", {"summary": "x"},
     ["calendar", "calendar.events", "calendar.events.owned"], "calendar.events.readonly"),
    ("events.delete", "DELETE", f"{CAL}/calendars/primary/events/gracebudget00001", None,
     ["calendar", "calendar.events"], "calendar.readonly"),
    ("users.list", "GET", f"{DIR}/users?customer=my_customer", None,
     ["admin.directory.user", "admin.directory.user.readonly"], "admin.directory.domain.readonly"),
    ("users.get", "GET", f"{DIR}/users/{GRACE}", None,
     ["admin.directory.user.readonly"], "admin.directory.group.readonly"),
    ("domains.list", "GET", f"{DIR}/customer/my_customer/domains", None,
     ["admin.directory.domain", "admin.directory.domain.readonly"], "admin.directory.user.readonly"),
    ("spaces.create", "POST", "/meet.googleapis.com/v2/spaces", {},
     ["meetings.space.created"], "meetings.space.readonly"),
]  # fmt: skip


@pytest.fixture
async def sbx() -> AsyncIterator[SandboxHandle]:
    async with running_sandbox(providers=["google"]) as handle:
        yield handle


@pytest.fixture
async def admin(sbx: SandboxHandle) -> AsyncIterator[SandboxAdmin]:
    async with SandboxAdmin(sbx.base_url) as client:
        yield client


async def call(sbx: SandboxHandle, token: str | None, method: str, path: str, body: Any) -> httpx.Response:
    async with sbx.client("", token) as client:
        return await client.request(method, path, json=body)


@pytest.mark.parametrize(
    ("name", "method", "path", "body", "accepted", "wrong"), ENDPOINTS, ids=[e[0] for e in ENDPOINTS]
)
async def test_a_token_without_the_scope_is_refused(
    sbx: SandboxHandle,
    admin: SandboxAdmin,
    name: str,
    method: str,
    path: str,
    body: Any,
    accepted: list[str],
    wrong: str,
) -> None:
    token = await admin.issue_token(
        "google", scopes=[S + wrong, "openid", S + "userinfo.email"], subject=GRACE_ID, email=GRACE
    )
    response = await call(sbx, token, method, path, body)
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["message"] == "Request had insufficient authentication scopes."
    assert error["status"] == "PERMISSION_DENIED"
    assert error["details"][0]["reason"] == "ACCESS_TOKEN_SCOPE_INSUFFICIENT"
    if name != "spaces.create":
        assert error["errors"][0]["reason"] == "insufficientPermissions"


@pytest.mark.parametrize(
    ("name", "method", "path", "body", "accepted", "wrong"), ENDPOINTS, ids=[e[0] for e in ENDPOINTS]
)
async def test_each_accepted_scope_is_enough(
    sbx: SandboxHandle,
    admin: SandboxAdmin,
    name: str,
    method: str,
    path: str,
    body: Any,
    accepted: list[str],
    wrong: str,
) -> None:
    for scope in accepted:
        token = await admin.issue_token("google", scopes=[S + scope], subject=GRACE_ID, email=GRACE)
        response = await call(sbx, token, method, path, body)
        assert response.status_code < 300, (scope, response.text)
        await admin.reset()


@pytest.mark.parametrize(
    ("name", "method", "path", "body", "accepted", "wrong"), ENDPOINTS, ids=[e[0] for e in ENDPOINTS]
)
async def test_missing_or_unknown_tokens_get_401(
    sbx: SandboxHandle, name: str, method: str, path: str, body: Any, accepted: list[str], wrong: str
) -> None:
    for token in (None, "ya29.unknown"):
        response = await call(sbx, token, method, path, body)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == 401
        if name != "spaces.create":
            reasons = {"required"} if token is None else {"authError"}
            assert {e["reason"] for e in response.json()["error"]["errors"]} == reasons
