"""The admin API and the standalone command, over real HTTP."""

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from sandbox.testing import SandboxAdmin, SandboxHandle, running_sandbox

GOOGLE_CAL = "https://www.googleapis.com/auth/calendar"
LIBS = Path(__file__).resolve().parents[3] / "libs"


@pytest.fixture
async def sbx() -> AsyncIterator[SandboxHandle]:
    async with running_sandbox() as handle:
        yield handle


@pytest.fixture
async def admin(sbx: SandboxHandle) -> AsyncIterator[SandboxAdmin]:
    async with SandboxAdmin(sbx.base_url) as client:
        yield client


async def test_health_lists_every_loaded_provider(admin: SandboxAdmin) -> None:
    health = await admin.health()
    assert health["status"] == "ok"
    assert {"google", "zoom"} <= set(health["providers"])


async def test_unknown_provider_and_missing_hooks_are_reported(sbx: SandboxHandle) -> None:
    async with httpx.AsyncClient(base_url=sbx.base_url) as client:
        assert (await client.post("/_admin/seed/nope", json={})).status_code == 404
        assert (await client.post("/_admin/faults", json={"kind": "explode"})).status_code == 400
        assert (
            await client.post("/_admin/faults", json={"kind": "status", "colour": "red"})
        ).status_code == 400
        assert (await client.post("/_admin/faults", json={"kind": "status", "times": 0})).status_code == 400
        assert (await client.post("/_admin/tokens/revoke", json={})).status_code == 400
        assert (await client.post("/_admin/tokens/expire", json={"token": "nope"})).status_code == 404
        assert (await client.post("/_admin/consent/google", json={})).status_code == 400
        assert (await client.post("/_admin/clock", json={"offset_seconds": "soon"})).status_code == 400
        assert (await client.post("/_admin/seed/google", content=b"not json")).status_code == 400
        assert (await client.get("/_admin/requests", params={"since": "x"})).status_code == 400


async def test_tokens_can_be_issued_listed_expired_and_revoked(
    sbx: SandboxHandle, admin: SandboxAdmin
) -> None:
    token = await admin.issue_token(
        "google", scopes=[GOOGLE_CAL], subject="103400000000000000001", email="ada@northwind.example"
    )
    listed = {t["token"]: t for t in await admin.tokens("google")}
    assert listed[token]["scopes"] == [GOOGLE_CAL] and listed[token]["kind"] == "access"
    body = {"timeMin": "2026-10-01T00:00:00Z", "timeMax": "2026-10-02T00:00:00Z", "items": []}
    async with sbx.client("www.googleapis.com/calendar/v3", token) as api:
        assert (await api.post("/freeBusy", json=body)).status_code == 200
        await admin.expire_token(token)
        assert (await api.post("/freeBusy", json=body)).status_code == 401
    other = await admin.issue_token("google", scopes=[GOOGLE_CAL], subject="s9")
    assert await admin.revoke_token(provider="google", subject="s9") == 1
    assert await admin.revoke_token(other) == 0


async def test_request_log_records_route_query_headers_body_and_status(
    sbx: SandboxHandle, admin: SandboxAdmin
) -> None:
    before = await admin.requests()
    since = before[-1]["seq"] if before else 0
    async with sbx.client("www.googleapis.com/calendar/v3", "bogus") as api:
        await api.post("/freeBusy?x=1", json={"timeMin": "a"})
    async with httpx.AsyncClient() as client:
        await client.get(sbx.url("www.googleapis.com/nothing/here"))
    logged = await admin.requests(since=since)
    assert [e["route"] for e in logged] == ["google.freeBusy", None]
    entry = logged[0]
    assert entry["provider"] == "google" and entry["method"] == "POST"
    assert entry["query"] == {"x": "1"} and entry["json"] == {"timeMin": "a"}
    assert entry["headers"]["authorization"] == "Bearer bogus" and entry["status"] == 401
    assert logged[1]["provider"] == "google" and logged[1]["status"] == 404
    assert [e["route"] for e in await admin.requests(route="google.*", since=since)] == ["google.freeBusy"]
    await admin.clear_requests()
    assert await admin.requests() == []


async def test_reset_restores_the_fixture_and_forgets_tokens_faults_and_clock(
    sbx: SandboxHandle, admin: SandboxAdmin
) -> None:
    await admin.bulk_users("google", count=10, prefix="tmp")
    token = await admin.issue_token("google", scopes=[GOOGLE_CAL])
    await admin.add_fault(route="google.freeBusy", kind="status", status=500)
    await admin.set_clock(3600)
    await admin.reset()
    assert await admin.tokens() == [] and await admin.faults() == []
    assert sbx.sandbox.clock_offset == 0
    assert sbx.sandbox.tokens.get(token) is None
    assert sbx.sandbox.state["google"].user("tmp000000@northwind.example") is None


async def test_clock_offset_moves_expiry(sbx: SandboxHandle, admin: SandboxAdmin) -> None:
    token = await admin.issue_token(
        "google",
        scopes=[GOOGLE_CAL],
        subject="103400000000000000001",
        email="ada@northwind.example",
        ttl=3599,
    )
    now = await admin.set_clock(4000)
    assert now > sbx.sandbox.clock() - 1
    async with sbx.client("www.googleapis.com/calendar/v3", token) as api:
        response = await api.get("/users/me/calendarList")
    assert response.status_code == 401


async def test_seed_and_update_user_and_created(admin: SandboxAdmin, sbx: SandboxHandle) -> None:
    await admin.seed(
        "google", {"users": [{"primaryEmail": "new@northwind.example", "name": {"givenName": "New"}}]}
    )
    updated = await admin.update_user("google", "new@northwind.example", suspended=True)
    assert updated["suspended"] is True and updated["primaryEmail"] == "new@northwind.example"
    with pytest.raises(httpx.HTTPStatusError):
        await admin.update_user("google", "ghost@northwind.example", suspended=True)
    assert await admin.created("google") == {"events": [], "spaces": []}
    assert await admin.created("zoom") == {"meetings": []}


async def test_bulk_users_reports_count_and_time(admin: SandboxAdmin) -> None:
    result = await admin.bulk_users(
        "google", tenant="C01northwind", domain="northwind.example", count=100_000, prefix="user"
    )
    assert result["created"] == 100_000 and result["seconds"] < 5


async def test_standalone_command_prints_one_json_line_and_exits_zero_on_sigterm() -> None:
    env = {**os.environ, "PYTHONPATH": str(LIBS)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sandbox",
        "--port",
        "0",
        "--providers",
        "google,zoom",
        stdout=asyncio.subprocess.PIPE,
        env=env,
    )
    assert proc.stdout is not None
    line = json.loads(await asyncio.wait_for(proc.stdout.readline(), 20))
    assert line["event"] == "sandbox.listening" and line["providers"] == ["google", "zoom"]
    async with httpx.AsyncClient() as client:
        assert (await client.get(f"{line['url']}/_admin/health")).json()["status"] == "ok"
    proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(proc.wait(), 20) == 0


async def _standalone(token_file: Path) -> tuple[asyncio.subprocess.Process, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sandbox", "--port", "0", "--providers", "zoom", "--token-file", str(token_file),
        stdout=asyncio.subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(LIBS)},
    )  # fmt: skip
    assert proc.stdout is not None
    line = json.loads(await asyncio.wait_for(proc.stdout.readline(), 20))
    return proc, line["url"]


async def test_with_a_token_file_a_restarted_sandbox_honours_the_tokens_it_issued_before(tmp_path) -> None:
    token_file = tmp_path / "sandbox" / "tokens.json"
    proc, url = await _standalone(token_file)
    try:
        async with SandboxAdmin(url) as admin:
            token = await admin.issue_token("zoom", client_id="rendezvous-zoom-s2s", scopes=["user:read:admin"],
                                            tenant="zoom-acct-1")  # fmt: skip
    finally:
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 20) == 0
    assert token in token_file.read_text()

    proc, url = await _standalone(token_file)
    try:
        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as zoom:
            known = await zoom.get(f"{url}/api.zoom.us/v2/users/alex@contoso.example")
            unknown = await zoom.get(f"{url}/api.zoom.us/v2/users/alex@contoso.example",
                                     headers={"Authorization": "Bearer never-issued"})  # fmt: skip
    finally:
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 20) == 0
    assert known.status_code == 200, known.text
    assert unknown.status_code == 401
