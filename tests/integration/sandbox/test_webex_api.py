"""Contract tests for the Webex emulator over HTTP: OAuth, /meetings, /people, errors, scopes, faults."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from sandbox.testing import SandboxAdmin, SandboxHandle, pkce_pair, running_sandbox

CLIENT, SECRET = "rendezvous-webex-client", "rendezvous-webex-secret"
REDIRECT = "http://127.0.0.1:8054/oauth/callback"
ORG = base64.b64encode(b"ciscospark://us/ORGANIZATION/9f1c2b7e-0000-4000-8000-00000000a001").decode().rstrip("=")
ALL = ["spark:kms", "meeting:admin_schedule_write", "meeting:schedules_read", "spark:people_read"]


def person_id(n: int) -> str:
    return base64.b64encode(f"ciscospark://us/PEOPLE/5e7b0a11-0000-4000-8000-{n:012d}".encode()).decode().rstrip("=")


ADA, GRACE = person_id(1), person_id(2)
EMAILS = {ADA: "ada@northwind.example", GRACE: "grace@northwind.example"}


@pytest.fixture
async def sbx() -> AsyncIterator[SandboxHandle]:
    async with running_sandbox(providers=["webex"]) as handle:
        yield handle


@pytest.fixture
async def admin(sbx: SandboxHandle) -> AsyncIterator[SandboxAdmin]:
    async with SandboxAdmin(sbx.base_url) as client:
        yield client


async def webex(sbx: SandboxHandle, admin: SandboxAdmin, scopes: list[str], who: str = ADA) -> httpx.AsyncClient:
    tok = await admin.issue_token("webex", client_id=CLIENT, scopes=scopes, subject=who, email=EMAILS[who], tenant=ORG)
    return sbx.client("webexapis.com/v1", tok)


def assert_webex_error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["message"] and body["errors"][0]["description"] and body["trackingId"].startswith("ROUTER_")
    return dict(body)


def meeting(start_in: timedelta = timedelta(days=1), length: timedelta = timedelta(minutes=30), **extra: Any) -> dict[str, Any]:
    start = datetime.now(UTC).replace(microsecond=0) + start_in
    return {"title": "Sync", "start": start.isoformat().replace("+00:00", "Z"),
            "end": (start + length).isoformat().replace("+00:00", "Z"), **extra}  # fmt: skip


# ------------------------------------------------------------------------------------------------ OAuth
async def test_code_flow_and_refresh_keep_the_refresh_token(sbx):
    verifier, challenge = pkce_pair()
    async with httpx.AsyncClient() as http:
        redirect = await http.get(sbx.url("webexapis.com/v1/authorize"), params={
            "client_id": CLIENT, "response_type": "code", "redirect_uri": REDIRECT, "state": "w",
            "scope": "spark:kms meeting:schedules_write", "login_hint": "grace@northwind.example",
            "code_challenge": challenge, "code_challenge_method": "S256"})  # fmt: skip
        assert redirect.status_code == 302
        params = {k: v[0] for k, v in parse_qs(urlsplit(redirect.headers["location"]).query).items()}
        assert params["state"] == "w"
        url = sbx.url("webexapis.com/v1/access_token")
        form = {"grant_type": "authorization_code", "client_id": CLIENT, "client_secret": SECRET,
                "code": params["code"], "redirect_uri": REDIRECT, "code_verifier": verifier}  # fmt: skip
        body = (await http.post(url, data=form)).json()
        assert body["token_type"] == "Bearer" and body["expires_in"] == 1209599
        assert body["refresh_token_expires_in"] > 7775000 and body["scope"] == "meeting:schedules_write spark:kms"
        reused = await http.post(url, data=form)
        assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
        refreshed = (await http.post(url, data={"grant_type": "refresh_token", "client_id": CLIENT,
                                                "client_secret": SECRET, "refresh_token": body["refresh_token"]})).json()  # fmt: skip
        assert refreshed["refresh_token"] == body["refresh_token"] and refreshed["access_token"] != body["access_token"]
        bad = await http.post(url, data={"grant_type": "refresh_token", "client_id": CLIENT, "client_secret": "x",
                                         "refresh_token": body["refresh_token"]})  # fmt: skip
        assert bad.status_code == 401 and bad.json()["error"] == "invalid_client"
        async with sbx.client("webexapis.com/v1", refreshed["access_token"]) as api:
            assert (await api.get("/people/me")).json()["emails"] == ["grace@northwind.example"]


async def test_consent_denial_redirects_with_access_denied(sbx, admin):
    await admin.consent("webex", "grace@northwind.example", deny=True)
    async with httpx.AsyncClient() as http:
        redirect = await http.get(sbx.url("webexapis.com/v1/authorize"), params={
            "client_id": CLIENT, "response_type": "code", "redirect_uri": REDIRECT, "state": "w",
            "scope": "spark:kms", "login_hint": "grace@northwind.example"})  # fmt: skip
    assert "error=access_denied" in redirect.headers["location"] and "state=w" in redirect.headers["location"]


# --------------------------------------------------------------------------------------------- meetings
async def test_create_meeting_answers_200_with_web_link(sbx, admin):
    async with await webex(sbx, admin, ALL) as api:
        response = await api.post("/meetings", json=meeting(agenda="Plan", invitees=[{"email": "alan@northwind.example"}]))
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("application/json")
        body = response.json()
        assert body["webLink"].startswith("https://northwind.webex.com/northwind/j.php?MTID=m")
        assert body["meetingNumber"].isdigit() and body["password"] and body["hostEmail"] == "ada@northwind.example"
        assert body["meetingType"] == "meetingSeries" and body["state"] == "active" and body["start"].endswith("Z")
        assert not any(k.startswith("_") for k in body)
        fetched = await api.get(f"/meetings/{body['id']}")
        assert fetched.json()["webLink"] == body["webLink"]
        assert (await api.delete(f"/meetings/{body['id']}")).status_code == 204
        assert_webex_error(await api.get(f"/meetings/{body['id']}"), 404)
    assert (await admin.created("webex"))["meetings"] == []


async def test_meeting_times_follow_the_timezone(sbx, admin):
    async with await webex(sbx, admin, ALL) as api:
        body = (await api.post("/meetings", json=meeting(timezone="Europe/Berlin"))).json()
    assert body["timezone"] == "Europe/Berlin" and body["start"][-6:] in ("+01:00", "+02:00")


@pytest.mark.parametrize(
    ("payload", "needle"),
    [
        (meeting(title="x" * 129), "128"),
        (meeting(start_in=timedelta(hours=-1)), "current time"),
        (meeting(length=timedelta(minutes=9)), "10 minutes"),
        (meeting(length=timedelta(hours=24)), "23 hours 59 minutes"),
        ({"title": "No times"}, "Start time is required"),
    ],
)
async def test_meeting_validation_errors(sbx, admin, payload, needle):
    async with await webex(sbx, admin, ALL) as api:
        body = assert_webex_error(await api.post("/meetings", json=payload), 400)
    assert body["message"] == "The input parameters contain invalid items."
    assert any(needle in e["description"] for e in body["errors"])


async def test_boundaries_ten_minutes_and_23h59_are_allowed(sbx, admin):
    async with await webex(sbx, admin, ALL) as api:
        assert (await api.post("/meetings", json=meeting(length=timedelta(minutes=10)))).status_code == 200
        assert (await api.post("/meetings", json=meeting(length=timedelta(hours=23, minutes=59)))).status_code == 200


async def test_host_email_needs_admin_scope_and_admin_role(sbx, admin):
    other = meeting(hostEmail="grace@northwind.example")
    async with await webex(sbx, admin, ALL) as api:
        created = await api.post("/meetings", json=other)
        assert created.status_code == 200 and created.json()["hostEmail"] == "grace@northwind.example"
        assert_webex_error(await api.post("/meetings", json=meeting(hostEmail="eve@tailspin.example")), 400)
    async with await webex(sbx, admin, ["spark:kms", "meeting:schedules_write"]) as api:
        assert_webex_error(await api.post("/meetings", json=other), 403)
        assert (await api.post("/meetings", json=meeting())).status_code == 200
    async with await webex(sbx, admin, ALL, who=GRACE) as api:
        assert_webex_error(await api.post("/meetings", json=meeting(hostEmail="ada@northwind.example")), 403)


async def test_meetings_scope_and_auth(sbx, admin):
    async with await webex(sbx, admin, ["spark:kms", "spark:people_read"]) as api:
        assert_webex_error(await api.post("/meetings", json=meeting()), 403)
    async with sbx.client("webexapis.com/v1", "not-a-token") as api:
        assert_webex_error(await api.post("/meetings", json=meeting()), 401)


async def test_meetings_fault_429_with_retry_after(sbx, admin):
    await admin.add_fault(route="webex.meetings.create", kind="status", status=429, retry_after=4)
    async with await webex(sbx, admin, ALL) as api:
        response = await api.post("/meetings", json=meeting())
        assert_webex_error(response, 429)
        assert response.headers["Retry-After"] == "4"
        await admin.add_fault(route="webex.meetings.create", kind="status", status=502)
        assert_webex_error(await api.post("/meetings", json=meeting()), 502)
        assert (await api.post("/meetings", json=meeting())).status_code == 200


# ----------------------------------------------------------------------------------------------- people
async def test_people_by_email_and_empty_items(sbx, admin):
    async with await webex(sbx, admin, ["spark:people_read"], who=GRACE) as api:
        found = (await api.get("/people", params={"email": "Carla@fabrikam.example"})).json()
        assert [p["displayName"] for p in found["items"]] == ["Carla Grant"] and found["notFoundIds"] is None
        person = found["items"][0]
        assert person["orgId"] == ORG and person["type"] == "person" and "loginEnabled" not in person
        assert (await api.get("/people", params={"email": "nobody@northwind.example"})).json()["items"] == []
        assert (await api.get("/people", params={"email": "eve@tailspin.example"})).json()["items"] == []
        by_name = (await api.get("/people", params={"displayName": "al"})).json()["items"]
        assert [p["emails"][0] for p in by_name] == ["alan@northwind.example"]
        by_id = (await api.get("/people", params={"id": f"{ADA},{GRACE}"})).json()["items"]
        assert len(by_id) == 2
        assert_webex_error(await api.get("/people"), 400)


async def test_admin_lists_people_with_link_paging(sbx, admin):
    async with await webex(sbx, admin, ["spark:people_read"]) as api:
        url, rows, pages = "/people?max=3", [], 0
        while url:
            response = await api.get(url)
            assert response.status_code == 200
            rows.extend(response.json()["items"])
            pages += 1
            link = response.headers.get("Link")
            if link is None:
                break
            assert link.endswith('>; rel="next"') and "cursor=" in link and "max=3" in link
            url = link[1 : link.index(">")]
            assert url.startswith(sbx.url("webexapis.com/v1/people"))
    assert pages == 3 and len(rows) == 8 and len({r["id"] for r in rows}) == 8
    assert all("loginEnabled" in r for r in rows)


async def test_people_scope(sbx, admin):
    async with await webex(sbx, admin, ["spark:kms", "meeting:schedules_write"]) as api:
        assert_webex_error(await api.get("/people", params={"email": "ada@northwind.example"}), 403)


async def test_people_fault_503(sbx, admin):
    await admin.add_fault(route="webex.people.list", kind="status", status=503, retry_after=1)
    async with await webex(sbx, admin, ["spark:people_read"]) as api:
        response = await api.get("/people", params={"email": "ada@northwind.example"})
        assert_webex_error(response, 503)
        assert response.headers["Retry-After"] == "1"


async def test_admin_update_user_is_visible(sbx, admin):
    await admin.update_user("webex", GRACE, email="grace.h@northwind.example", status="inactive")
    async with await webex(sbx, admin, ["spark:people_read"]) as api:
        assert (await api.get("/people", params={"email": "grace@northwind.example"})).json()["items"] == []
        moved = (await api.get("/people", params={"email": "grace.h@northwind.example"})).json()["items"]
        assert moved[0]["status"] == "inactive"


async def test_put_replaces_the_schedule_and_answers_200_with_the_meeting(sbx, admin):
    async with await webex(sbx, admin, ALL) as api:
        created = (await api.post("/meetings", json=meeting(agenda="Numbers", timezone="Europe/London"))).json()
        moved = meeting(start_in=timedelta(days=2), length=timedelta(minutes=45), title="Moved")
        put = await api.put(f"/meetings/{created['id']}", json=moved)
        assert put.status_code == 200
        body = put.json()
        assert (body["id"], body["webLink"], body["meetingNumber"], body["password"]) == (
            created["id"], created["webLink"], created["meetingNumber"], created["password"])
        assert (body["title"], body["start"], body["end"], body["timezone"], body["agenda"]) == (
            "Moved", moved["start"], moved["end"], "UTC", "")  # a PUT: what was left out is reset
        assert (await api.get(f"/meetings/{created['id']}")).json()["title"] == "Moved"
        assert_webex_error(await api.put(f"/meetings/{created['id']}", json={"title": "No times"}), 400)
        assert_webex_error(await api.put(f"/meetings/{created['id']}", json=meeting(start_in=-timedelta(days=1))), 400)
        assert_webex_error(await api.put("/meetings/0123456789abcdef0123456789abcdef", json=moved), 404)


async def test_an_admins_meeting_for_another_host_needs_that_host_named(sbx, admin):
    async with await webex(sbx, admin, ALL) as api:
        created = (await api.post("/meetings", json=meeting(hostEmail="grace@northwind.example"))).json()
        path = f"/meetings/{created['id']}"
        assert_webex_error(await api.put(path, json=meeting(title="Moved")), 404)
        assert_webex_error(await api.get(path), 404)
        put = await api.put(path, json=meeting(title="Moved", hostEmail="grace@northwind.example"))
        assert put.status_code == 200 and put.json()["hostEmail"] == "grace@northwind.example"
        assert (await api.get(path, params={"hostEmail": "grace@northwind.example"})).json()["title"] == "Moved"
    async with await webex(sbx, admin, ["spark:kms", "meeting:schedules_write"]) as api:  # no admin scope
        assert_webex_error(await api.put(path, json=meeting(hostEmail="grace@northwind.example")), 404)
    async with await webex(sbx, admin, ["spark:kms", "meeting:schedules_read"]) as api:
        assert_webex_error(await api.put(path, json=meeting()), 403)
    async with await webex(sbx, admin, ALL, who=GRACE) as api:  # the host herself
        assert (await api.put(path, json=meeting(title="Mine"))).status_code == 200
    async with await webex(sbx, admin, ALL) as api:
        assert_webex_error(await api.delete(path), 404)
        assert (await api.delete(path, params={"hostEmail": "grace@northwind.example"})).status_code == 204
