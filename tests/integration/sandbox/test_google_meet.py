"""Meet REST v2 spaces over HTTP (google.rpc error shape)."""

from collections.abc import AsyncIterator

import httpx
import pytest

from sandbox.testing import SandboxAdmin, SandboxHandle, running_sandbox

S = "https://www.googleapis.com/auth/"
ADA, ADA_ID = "ada@northwind.example", "103400000000000000001"


@pytest.fixture
async def sbx() -> AsyncIterator[SandboxHandle]:
    async with running_sandbox(providers=["google"]) as handle:
        yield handle


@pytest.fixture
async def admin(sbx: SandboxHandle) -> AsyncIterator[SandboxAdmin]:
    async with SandboxAdmin(sbx.base_url) as client:
        yield client


@pytest.fixture
async def api(sbx: SandboxHandle, admin: SandboxAdmin) -> AsyncIterator[httpx.AsyncClient]:
    token = await admin.issue_token(
        "google", scopes=[S + "meetings.space.created"], subject=ADA_ID, email=ADA
    )
    async with sbx.client("meet.googleapis.com/v2", token) as client:
        yield client


async def test_create_space_shape(api: httpx.AsyncClient, admin: SandboxAdmin) -> None:
    response = await api.post("/spaces", json={})
    assert response.status_code == 200
    space = response.json()
    assert space["name"].startswith("spaces/") and len(space["name"]) > len("spaces/")
    code = space["meetingCode"]
    assert [len(p) for p in code.split("-")] == [3, 4, 3] and code.replace("-", "").isalpha()
    assert space["meetingUri"] == f"https://meet.google.com/{code}"
    assert space["config"] == {"accessType": "TRUSTED", "entryPointAccess": "ALL"}
    created = (await admin.created("google"))["spaces"]
    assert created[0]["space"] == space and created[0]["creator"] == ADA


async def test_create_with_config_and_get_by_name_or_code(api: httpx.AsyncClient) -> None:
    space = (await api.post("/spaces", json={"config": {"accessType": "OPEN"}})).json()
    assert space["config"]["accessType"] == "OPEN"
    assert (await api.get(f"/{space['name']}")).json() == space
    assert (await api.get(f"/spaces/{space['meetingCode']}")).json() == space
    missing = await api.get("/spaces/doesNotExist")
    assert missing.status_code == 404
    assert missing.json() == {
        "error": {"code": 404, "message": "Requested entity was not found.", "status": "NOT_FOUND"}
    }


async def test_invalid_config_is_invalid_argument(api: httpx.AsyncClient) -> None:
    response = await api.post("/spaces", json={"config": {"accessType": "EVERYONE"}})
    assert response.status_code == 400 and response.json()["error"]["status"] == "INVALID_ARGUMENT"


async def test_auth_errors_use_the_rpc_shape(sbx: SandboxHandle) -> None:
    async with sbx.client("meet.googleapis.com/v2") as anonymous:
        response = await anonymous.post("/spaces", json={})
    assert response.status_code == 401 and response.json()["error"]["status"] == "UNAUTHENTICATED"
    assert "errors" not in response.json()["error"]
