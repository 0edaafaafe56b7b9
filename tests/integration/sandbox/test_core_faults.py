"""Fault injection through the admin API: latency, 429 + Retry-After, 5xx, timeouts, revoked tokens."""

import time
from collections.abc import AsyncIterator

import httpx
import pytest

from sandbox.testing import SandboxAdmin, SandboxHandle, running_sandbox

CAL = "https://www.googleapis.com/auth/calendar"
FREEBUSY = {
    "timeMin": "2026-10-01T00:00:00Z",
    "timeMax": "2026-10-02T00:00:00Z",
    "items": [{"id": "ada@northwind.example"}],
}


@pytest.fixture
async def sbx() -> AsyncIterator[SandboxHandle]:
    async with running_sandbox(providers=["google", "zoom"]) as handle:
        yield handle


@pytest.fixture
async def admin(sbx: SandboxHandle) -> AsyncIterator[SandboxAdmin]:
    async with SandboxAdmin(sbx.base_url) as client:
        yield client


@pytest.fixture
async def api(sbx: SandboxHandle, admin: SandboxAdmin) -> AsyncIterator[httpx.AsyncClient]:
    token = await admin.issue_token(
        "google", scopes=[CAL], subject="103400000000000000001", email="ada@northwind.example"
    )
    async with sbx.client("www.googleapis.com/calendar/v3", token) as client:
        yield client


async def test_latency_delays_the_answer(admin: SandboxAdmin, api: httpx.AsyncClient) -> None:
    await admin.add_fault(route="google.freeBusy", kind="latency", latency_ms=300)
    started = time.perf_counter()
    response = await api.post("/freeBusy", json=FREEBUSY)
    assert response.status_code == 200
    assert time.perf_counter() - started >= 0.3


async def test_429_carries_retry_after_and_google_error_shape_then_clears(
    admin: SandboxAdmin, api: httpx.AsyncClient
) -> None:
    fault_id = await admin.add_fault(route="google.freeBusy", kind="status", status=429, retry_after=7)
    assert fault_id
    response = await api.post("/freeBusy", json=FREEBUSY)
    assert response.status_code == 429 and response.headers["Retry-After"] == "7"
    error = response.json()["error"]
    assert error["code"] == 429 and error["errors"][0]["reason"] == "rateLimitExceeded"
    assert error["errors"][0]["domain"] == "usageLimits"
    assert (await api.post("/freeBusy", json=FREEBUSY)).status_code == 200, "times=1 by default"


async def test_403_rate_limit_and_5xx_backend_error(admin: SandboxAdmin, api: httpx.AsyncClient) -> None:
    await admin.add_fault(route="google.freeBusy", kind="status", status=403)
    await admin.add_fault(route="google.freeBusy", kind="status", status=503, times=2)
    first = await api.post("/freeBusy", json=FREEBUSY)
    assert first.status_code == 403 and first.json()["error"]["errors"][0]["reason"] == "rateLimitExceeded"
    for _ in range(2):
        failed = await api.post("/freeBusy", json=FREEBUSY)
        assert failed.status_code == 503 and failed.json()["error"]["errors"][0]["reason"] == "backendError"
    assert (await api.post("/freeBusy", json=FREEBUSY)).status_code == 200


async def test_timeout_fires_the_client_timeout(admin: SandboxAdmin, api: httpx.AsyncClient) -> None:
    await admin.add_fault(route="google.freeBusy", kind="timeout")
    with pytest.raises(httpx.ReadTimeout):
        await api.post("/freeBusy", json=FREEBUSY, timeout=0.3)


async def test_revoke_fault_makes_the_call_fail_like_a_revoked_token(
    admin: SandboxAdmin, api: httpx.AsyncClient
) -> None:
    await admin.add_fault(route="google.freeBusy", kind="revoke")
    response = await api.post("/freeBusy", json=FREEBUSY)
    assert response.status_code == 401 and response.json()["error"]["errors"][0]["reason"] == "authError"
    assert (await api.post("/freeBusy", json=FREEBUSY)).status_code == 401, "the token stays revoked"


async def test_provider_wide_fault_with_custom_body_and_log_marks_it(
    admin: SandboxAdmin, api: httpx.AsyncClient
) -> None:
    fault_id = await admin.add_fault(provider="google", kind="status", status=500, body={"custom": True})
    response = await api.get("/users/me/calendarList")
    assert response.status_code == 500 and response.json() == {"custom": True}
    logged = await admin.requests(route="google.calendarList.list")
    assert logged[-1]["fault"] == fault_id and logged[-1]["status"] == 500


async def test_faults_use_each_provider_error_shape(sbx: SandboxHandle, admin: SandboxAdmin) -> None:
    token = await admin.issue_token(
        "zoom", scopes=["user:read:admin"], subject="zA1lexW1lber4Contoso01", tenant="zoom-acct-1"
    )
    await admin.add_fault(route="zoom.users.get", kind="status", status=429, retry_after=1)
    await admin.add_fault(route="google.meet.spaces.create", kind="status", status=503)
    await admin.add_fault(route="google.oauth.token", kind="status", status=503)
    async with sbx.client("api.zoom.us/v2", token) as zoom:
        response = await zoom.get("/users/me")
    assert (
        response.status_code == 429
        and response.json()["code"] == 429
        and response.headers["Retry-After"] == "1"
    )
    async with httpx.AsyncClient() as client:
        meet = await client.post(sbx.url("meet.googleapis.com/v2/spaces"), json={})
        token_resp = await client.post(
            sbx.url("oauth2.googleapis.com/token"), data={"grant_type": "refresh_token"}
        )
    assert meet.json() == {"error": {"code": 503, "message": "Backend Error", "status": "UNAVAILABLE"}}
    assert token_resp.status_code == 503 and token_resp.json()["error"] == "temporarily_unavailable"


async def test_unlimited_fault_until_cleared(admin: SandboxAdmin, api: httpx.AsyncClient) -> None:
    await admin.add_fault(route="google.freeBusy", kind="status", status=500, times=None)
    for _ in range(3):
        assert (await api.post("/freeBusy", json=FREEBUSY)).status_code == 500
    assert len(await admin.faults()) == 1
    await admin.clear_faults()
    assert (await api.post("/freeBusy", json=FREEBUSY)).status_code == 200
