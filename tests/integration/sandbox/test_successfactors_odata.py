"""Contract tests for the SuccessFactors emulator over HTTP: SAML-bearer token and OData v2 ``User``."""

from __future__ import annotations

import base64
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from sandbox.providers.successfactors import make_assertion
from sandbox.testing import SandboxAdmin, SandboxHandle, running_sandbox

CLIENT, COMPANY, KEY = "rendezvous-sf-client", "FABRIKAM", "sandbox-sf-private-key-not-secret"
BEARER = "urn:ietf:params:oauth:grant-type:saml2-bearer"
DATE = re.compile(r"^/Date\(\d+\+0000\)/$")


@pytest.fixture
async def sbx() -> AsyncIterator[SandboxHandle]:
    async with running_sandbox(providers=["successfactors"]) as handle:
        yield handle


@pytest.fixture
async def admin(sbx: SandboxHandle) -> AsyncIterator[SandboxAdmin]:
    async with SandboxAdmin(sbx.base_url) as client:
        yield client


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


async def get_token(http: httpx.AsyncClient, sbx: SandboxHandle, user: str = "sfapi", **form: str) -> httpx.Response:
    assertion = await http.post(sbx.url("successfactors/oauth/idp"), data={
        "client_id": CLIENT, "user_id": user, "token_url": sbx.url("successfactors/oauth/token"), "private_key": KEY})  # fmt: skip
    assert assertion.status_code == 200
    data = {"client_id": CLIENT, "company_id": COMPANY, "grant_type": BEARER, "assertion": assertion.text, **form}
    return await http.post(sbx.url("successfactors/oauth/token"), data=data)


async def odata(http: httpx.AsyncClient, sbx: SandboxHandle, user: str = "sfapi") -> httpx.AsyncClient:
    tok = (await get_token(http, sbx, user)).json()["access_token"]
    return sbx.client("successfactors/odata/v2", tok)


def assert_odata_error(response: httpx.Response, status: int, code: str | None = None) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["message"]["lang"] == "en-US" and error["message"]["value"]
    if code:
        assert error["code"] == code


async def all_pages(api: httpx.AsyncClient, params: dict[str, str]) -> tuple[list[dict[str, Any]], int]:
    response = await api.get("/User", params=params)
    rows, pages = [], 0
    while True:
        assert response.status_code == 200, response.text
        d = response.json()["d"]
        rows.extend(d["results"])
        pages += 1
        if "__next" not in d:
            return rows, pages
        response = await api.get(d["__next"])


# ------------------------------------------------------------------------------------------------ token
async def test_saml_bearer_token_and_reuse(http, sbx):
    first = await get_token(http, sbx)
    body = first.json()
    assert first.status_code == 200 and body["token_type"] == "Bearer" and 86000 < body["expires_in"] <= 86400
    assert (await get_token(http, sbx)).json()["access_token"] == body["access_token"]
    assert (await get_token(http, sbx, new_token="true")).json()["access_token"] != body["access_token"]


async def test_hand_made_assertion_with_api_key_attribute_is_accepted(http, sbx):
    assertion = make_assertion(CLIENT, "sfapi", "x", sbx.sandbox.clock())
    response = await http.post(sbx.url("successfactors/oauth/token"), data={
        "client_id": CLIENT, "company_id": COMPANY, "grant_type": BEARER, "assertion": assertion})  # fmt: skip
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("form", "needle"),
    [
        ({"assertion": base64.b64encode(b"not xml").decode()}, "SAML"),
        ({"assertion": make_assertion("other-client", "sfapi", "x", 4e9)}, "client ID"),
        ({"assertion": make_assertion(CLIENT, "sfapi", "x", 1e9)}, "expired"),
        ({"assertion": make_assertion(CLIENT, "ghost", "x", 4e9)}, "invalid user"),
        ({"assertion": make_assertion(CLIENT, "djump", "x", 4e9)}, "invalid user"),
        ({"company_id": "CONTOSO", "assertion": make_assertion(CLIENT, "sfapi", "x", 4e9)}, "invalid client"),
    ],
)
async def test_token_refusals(http, sbx, form, needle):
    data = {"client_id": CLIENT, "company_id": COMPANY, "grant_type": BEARER, **form}
    response = await http.post(sbx.url("successfactors/oauth/token"), data=data)
    assert response.status_code == 401
    assert response.json()["errorHttpCode"] == "401" and needle in response.json()["errorMessage"]


# ------------------------------------------------------------------------------------------------- User
async def test_default_collection_is_active_only_with_metadata_and_dates(http, sbx):
    async with await odata(http, sbx) as api:
        body = (await api.get("/User", params={"$format": "json"})).json()
    rows = body["d"]["results"]
    assert "__next" not in body["d"]
    assert {r["status"] for r in rows} == {"t", "T"}
    assert "djump" not in {r["userId"] for r in rows}
    carla = next(r for r in rows if r["userId"] == "cgrant")
    assert carla["__metadata"] == {"uri": sbx.url("successfactors/odata/v2/User('cgrant')"), "type": "SFOData.User"}
    assert DATE.match(carla["lastModifiedDateTime"]) and carla["lastModifiedDateTime"] == "/Date(1770714000000+0000)/"
    assert carla["manager"] == {"__deferred": {"uri": sbx.url("successfactors/odata/v2/User('cgrant')/manager")}}


async def test_status_filter_and_incremental_filter(http, sbx):
    async with await odata(http, sbx) as api:
        every = (await api.get("/User", params={"$filter": "status in 't','f','T','F'", "$select": "userId"})).json()
        assert len(every["d"]["results"]) == 9
        recent = await api.get("/User", params={
            "$filter": "status in 't','f' and lastModifiedDateTime gt datetimeoffset'2026-03-01T00:00:00Z'",
            "$select": "userId,status,lastModifiedDateTime", "$format": "json"})  # fmt: skip
        rows = recent.json()["d"]["results"]
        assert [r["userId"] for r in rows] == ["djump", "mchen", "nhire"]
        assert set(rows[0]) == {"__metadata", "userId", "status", "lastModifiedDateTime"}
        only_f = (await api.get("/User", params={"$filter": "(status eq 'f')", "$select": "userId"})).json()
        assert [r["userId"] for r in only_f["d"]["results"]] == ["djump"]
        bad = await api.get("/User", params={"$filter": "substringof('a',email)"})
        assert_odata_error(bad, 400, "COE_GENERAL_BAD_REQUEST")
        assert_odata_error(await api.get("/User", params={"$select": "userId,shoeSize"}), 400, "COE_PROPERTY_NOT_FOUND")


async def test_key_lookup_returns_inactive_users_and_404(http, sbx):
    async with await odata(http, sbx) as api:
        dan = (await api.get("/User('djump')")).json()["d"]
        assert dan["status"] == "f" and dan["email"] == "dan@fabrikam.example"
        assert_odata_error(await api.get("/User('ghost')"), 404)
        assert (await api.get("/User/$count")).text == "7"


async def test_server_paging_1000_rows_with_absolute_next(http, sbx, admin):
    await admin.bulk_users("successfactors", tenant=COMPANY, domain="fabrikam.example", count=2500, prefix="emp")
    async with await odata(http, sbx) as api:
        first = (await api.get("/User", params={"$select": "userId", "$format": "json"})).json()["d"]
        assert len(first["results"]) == 1000
        assert first["__next"].startswith(sbx.url("successfactors/odata/v2/User?"))
        token = re.search(r"\$skiptoken=([^&]+)", first["__next"]).group(1)  # type: ignore[union-attr]
        assert "startRow" in base64.b64decode(httpx.URL("?t=" + token).params["t"] + "==").decode()
        rows, pages = await all_pages(api, {"$select": "userId", "$format": "json"})
        assert pages == 3 and len(rows) == 2507 and len({r["userId"] for r in rows}) == 2507
        small, small_pages = await all_pages(api, {"$select": "userId", "customPageSize": "3",
                                                   "$filter": "department eq 'HR'"})  # fmt: skip
        assert [r["userId"] for r in small] == ["cgrant", "mchen"] and small_pages == 1
        assert_odata_error(await api.get("/User", params={"$skiptoken": "garbage"}), 400)


async def test_update_user_feeds_last_modified(http, sbx, admin):
    before = (await admin.set_clock(0)) * 1000
    await admin.update_user("successfactors", "bwalters", status="f", email="ben.w@fabrikam.example")
    async with await odata(http, sbx) as api:
        assert "bwalters" not in {r["userId"] for r in (await api.get("/User")).json()["d"]["results"]}
        ben = (await api.get("/User('bwalters')")).json()["d"]
        ms = int(re.match(r"/Date\((\d+)", ben["lastModifiedDateTime"]).group(1))  # type: ignore[union-attr]
        assert ms >= before - 1000 and ben["email"] == "ben.w@fabrikam.example"


async def test_permission_and_auth_errors(http, sbx):
    async with await odata(http, sbx, user="nopriv") as api:
        assert_odata_error(await api.get("/User"), 403)
        assert_odata_error(await api.get("/User('cgrant')"), 403)
    async with sbx.client("successfactors/odata/v2", "bogus") as api:
        assert_odata_error(await api.get("/User"), 401, "LGN0022")


async def test_faults_use_the_odata_error_shape(http, sbx, admin):
    await admin.add_fault(route="successfactors.User.list", kind="status", status=429, retry_after=5)
    await admin.add_fault(route="successfactors.User.list", kind="status", status=500)
    async with await odata(http, sbx) as api:
        throttled = await api.get("/User")
        assert_odata_error(throttled, 429)
        assert throttled.headers["Retry-After"] == "5"
        assert_odata_error(await api.get("/User"), 500, "COE_GENERAL_SERVER_FAILURE")
        assert (await api.get("/User")).status_code == 200
