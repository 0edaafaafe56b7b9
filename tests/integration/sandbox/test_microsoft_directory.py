"""Contract tests for Graph /users, /users/delta, /organization and /places over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from sandbox.testing import SandboxAdmin, SandboxHandle, running_sandbox

CONTOSO = "11111111-1111-1111-1111-111111111111"
MEGAN, ADELE, ALEX, LYNNE, ISAIAH = (f"aaaaaaaa-0000-4000-8000-00000000000{n}" for n in range(1, 6))
SVC = "aaaaaaaa-0000-4000-8000-000000000008"
DIRECTORY = ["User.Read.All", "Organization.Read.All", "Place.Read.All"]


@pytest.fixture
async def sbx() -> AsyncIterator[SandboxHandle]:
    async with running_sandbox(providers=["microsoft"]) as handle:
        yield handle


@pytest.fixture
async def admin(sbx: SandboxHandle) -> AsyncIterator[SandboxAdmin]:
    async with SandboxAdmin(sbx.base_url) as client:
        yield client


async def graph(sbx: SandboxHandle, admin: SandboxAdmin, scopes: list[str], user: str | None = None) -> httpx.AsyncClient:
    tok = await admin.issue_token("microsoft", client_id="rendezvous-ms-client", scopes=scopes, subject=user,
                                  tenant=CONTOSO, ttl=30 * 86400)  # fmt: skip
    return sbx.client("graph.microsoft.com/v1.0", tok)


def assert_graph_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["message"] and error["innerError"]["request-id"]


async def follow(client: httpx.AsyncClient, first: httpx.Response, base: str) -> tuple[list[dict[str, Any]], int, str | None]:
    """Every row through ``@odata.nextLink`` (absolute, replayed verbatim); rows, pages, deltaLink."""
    rows, pages, response = [], 0, first
    while True:
        assert response.status_code == 200, response.text
        body = response.json()
        rows.extend(body["value"])
        pages += 1
        link = body.get("@odata.nextLink")
        if link is None:
            return rows, pages, body.get("@odata.deltaLink")
        assert link.startswith(base)
        response = await client.get(link)


# ------------------------------------------------------------------------------------------------ users
async def test_users_default_properties_and_null_mail(sbx, admin):
    async with await graph(sbx, admin, DIRECTORY) as g:
        body = (await g.get("/users")).json()
    assert body["@odata.context"] == "https://graph.microsoft.com/v1.0/$metadata#users"
    assert "@odata.nextLink" not in body
    first = body["value"][0]
    assert list(first) == ["id", "businessPhones", "displayName", "givenName", "jobTitle", "mail", "mobilePhone",
                           "officeLocation", "preferredLanguage", "surname", "userPrincipalName"]  # fmt: skip
    svc = next(u for u in body["value"] if u["id"] == SVC)
    assert svc["mail"] is None
    assert {u["userPrincipalName"] for u in body["value"]} >= {"megan@contoso.example", "joni@contoso.example"}
    assert all(u["userPrincipalName"] != "ben@fabrikam.example" for u in body["value"])  # other tenant


async def test_users_select_and_paging_with_absolute_next_links(sbx, admin):
    async with await graph(sbx, admin, DIRECTORY) as g:
        first = await g.get("/users", params={"$select": "id,mail,accountEnabled", "$top": "4"})
        body = first.json()
        assert body["@odata.context"].endswith("#users(id,mail,accountEnabled)")
        assert urlsplit(body["@odata.nextLink"]).netloc == urlsplit(sbx.base_url).netloc
        assert "$skiptoken=" in body["@odata.nextLink"] and "$top=4" in body["@odata.nextLink"]
        rows, pages, _ = await follow(g, first, sbx.url("graph.microsoft.com/v1.0/users"))
    assert pages == 3 and len(rows) == 9 and len({r["id"] for r in rows}) == 9
    assert all(set(r) == {"id", "mail", "accountEnabled"} for r in rows)
    assert next(r for r in rows if r["mail"] == "joni@contoso.example")["accountEnabled"] is False


async def test_users_top_limit_filter_and_bad_tokens(sbx, admin):
    async with await graph(sbx, admin, DIRECTORY) as g:
        assert_graph_error(await g.get("/users", params={"$top": "1000"}), 400, "Request_UnsupportedQuery")
        assert_graph_error(await g.get("/users", params={"$select": "id,shoeSize"}), 400, "Request_BadRequest")
        assert_graph_error(await g.get("/users", params={"$skiptoken": "garbage"}), 400, "Directory_ExpiredPageToken")
        assert_graph_error(await g.get("/users", params={"$filter": "contains(mail,'x')"}), 400, "Request_UnsupportedQuery")
        found = await g.get("/users", params={"$filter": "mail eq 'ADELE@contoso.example'", "$select": "id"})
        assert found.json()["value"] == [{"id": ADELE}]
        started = await g.get("/users", params={"$filter": "startswith(displayName,'a') and accountEnabled eq true"})
        assert [u["displayName"] for u in started.json()["value"]] == ["Adele Vance", "Alex Wilber"]


async def test_bulk_100k_style_paging_with_top_999(sbx, admin):
    await admin.bulk_users("microsoft", tenant=CONTOSO, domain="contoso.example", count=2500, prefix="bulk")
    async with await graph(sbx, admin, DIRECTORY) as g:
        first = await g.get("/users", params={"$select": "id,userPrincipalName,accountEnabled", "$top": "999"})
        rows, pages, _ = await follow(g, first, sbx.url("graph.microsoft.com/v1.0/users"))
    assert pages == 3 and len(rows) == 2509 and len({r["id"] for r in rows}) == 2509
    assert rows[-1]["userPrincipalName"] == "bulk2499@contoso.example"


async def test_read_basic_permission_hides_non_basic_properties(sbx, admin):
    async with await graph(sbx, admin, ["User.ReadBasic.All"]) as g:
        row = (await g.get("/users", params={"$select": "id,displayName,accountEnabled,jobTitle"})).json()["value"][0]
    assert row["displayName"] == "Megan Bowen" and row["accountEnabled"] is None and row["jobTitle"] is None


async def test_user_by_upn_and_me(sbx, admin):
    async with await graph(sbx, admin, DIRECTORY) as g:
        user = (await g.get("/users/adele@contoso.example", params={"$select": "id,accountEnabled"})).json()
        assert user["id"] == ADELE and user["accountEnabled"] is True and user["@odata.context"].endswith("/$entity")
        assert_graph_error(await g.get("/users/ghost@contoso.example"), 404, "Request_ResourceNotFound")
        assert_graph_error(await g.get("/me"), 400, "BadRequest")
    async with await graph(sbx, admin, ["User.Read"], user=ADELE) as g:
        assert (await g.get("/me")).json()["userPrincipalName"] == "adele@contoso.example"
        assert (await g.get(f"/users/{ADELE}")).status_code == 200
        assert_graph_error(await g.get(f"/users/{MEGAN}"), 403, "Authorization_RequestDenied")


@pytest.mark.parametrize("path", ["/users", "/users/delta", "/organization", "/places/microsoft.graph.room"])
async def test_directory_endpoints_refuse_tokens_without_the_permission(sbx, admin, path):
    async with await graph(sbx, admin, ["Calendars.ReadWrite"]) as g:
        assert_graph_error(await g.get(path), 403, "Authorization_RequestDenied")


async def test_users_fault_429_has_retry_after(sbx, admin):
    await admin.add_fault(route="microsoft.users.list", kind="status", status=429, retry_after=3)
    async with await graph(sbx, admin, DIRECTORY) as g:
        response = await g.get("/users")
        assert_graph_error(response, 429, "TooManyRequests")
        assert response.headers["Retry-After"] == "3"
        assert (await g.get("/users")).status_code == 200


# ------------------------------------------------------------------------------------------------ delta
async def full_sync(g: httpx.AsyncClient, sbx: SandboxHandle, select: str = "id,mail,accountEnabled") -> tuple[list[dict[str, Any]], str]:
    first = await g.get("/users/delta", params={"$select": select}, headers={"Prefer": "odata.maxpagesize=4"})
    rows, pages, delta_link = await follow(g, first, sbx.url("graph.microsoft.com/v1.0/users/delta"))
    assert pages == 3 and delta_link is not None
    return rows, delta_link


async def test_delta_full_sync_then_only_changes(sbx, admin):
    async with await graph(sbx, admin, DIRECTORY) as g:
        rows, link = await full_sync(g, sbx)
        assert len(rows) == 9 and all(set(r) == {"id", "mail", "accountEnabled"} for r in rows)
        assert urlsplit(link).netloc == urlsplit(sbx.base_url).netloc and "$deltatoken=" in link
        nothing = (await g.get(link)).json()
        assert nothing["value"] == [] and nothing["@odata.deltaLink"]
        await admin.update_user("microsoft", ALEX, mail="alex.w@contoso.example", userPrincipalName="alex.w@contoso.example")
        await admin.update_user("microsoft", LYNNE, accountEnabled=False)
        await admin.update_user("microsoft", ISAIAH, deleted=True)
        await admin.update_user("microsoft", MEGAN, deleted="permanent")
        await admin.seed("microsoft", {"users": [{"id": "aaaaaaaa-0000-4000-8000-000000000077", "tenant": CONTOSO,
                                                  "userPrincipalName": "new@contoso.example", "mail": "new@contoso.example",
                                                  "displayName": "New Person"}]})  # fmt: skip
        value, pages, next_delta = await follow(g, await g.get(link), sbx.url("graph.microsoft.com/v1.0/users/delta"))
        assert pages == 2 and next_delta  # the page size (4) travels in the token
        by_id = {r["id"]: r for r in value}
        assert set(by_id) == {ALEX, LYNNE, ISAIAH, MEGAN, "aaaaaaaa-0000-4000-8000-000000000077"}
        assert by_id[ALEX]["mail"] == "alex.w@contoso.example"
        assert by_id[LYNNE]["accountEnabled"] is False
        assert by_id[ISAIAH] == {"id": ISAIAH, "@removed": {"reason": "changed"}}
        assert by_id[MEGAN] == {"id": MEGAN, "@removed": {"reason": "deleted"}}
        again = (await g.get(next_delta)).json()
        assert again["value"] == []


async def test_delta_ignores_changes_to_unselected_properties(sbx, admin):
    async with await graph(sbx, admin, DIRECTORY) as g:
        _rows, link = await full_sync(g, sbx)
        await admin.update_user("microsoft", ADELE, jobTitle="Director")
        assert (await g.get(link)).json()["value"] == []
        await admin.update_user("microsoft", ADELE, accountEnabled=False)
        assert [r["id"] for r in (await g.get(link)).json()["value"]] == [ADELE]


async def test_delta_changes_are_paged_too(sbx, admin):
    async with await graph(sbx, admin, DIRECTORY) as g:
        _rows, link = await full_sync(g, sbx)
        await admin.bulk_users("microsoft", tenant=CONTOSO, count=450, prefix="d")
        first = await g.get(link, headers={"Prefer": "odata.maxpagesize=200"})
        rows, pages, final = await follow(g, first, sbx.url("graph.microsoft.com/v1.0/users/delta"))
    assert len(rows) == 450 and pages == 3 and final


async def test_stale_delta_token_is_410_with_location_and_expired_is_sync_state_not_found(sbx, admin):
    async with await graph(sbx, admin, DIRECTORY) as g:
        _rows, link = await full_sync(g, sbx)
        await admin.seed("microsoft", {"expire_delta_tokens": True})
        assert_graph_error(await g.get(link), 400, "syncStateNotFound")
        _rows, link = await full_sync(g, sbx)
        await admin.set_clock(8 * 86400)
        assert_graph_error(await g.get(link), 400, "syncStateNotFound")
        await admin.set_clock(0)
        await admin.seed("microsoft", {"delta_reset": True})
        gone = await g.get(link)
        assert_graph_error(gone, 410, "resyncRequired")
        assert gone.headers["Location"] == sbx.url("graph.microsoft.com/v1.0/users/delta")
        assert_graph_error(await g.get("/users/delta", params={"$deltatoken": "not-a-token"}), 410, "resyncRequired")


# --------------------------------------------------------------------------------------- organization/places
async def test_organization_verified_domains(sbx, admin):
    async with await graph(sbx, admin, DIRECTORY) as g:
        body = (await g.get("/organization")).json()
    assert body["@odata.context"].endswith("#organization")
    (org,) = body["value"]
    assert org["id"] == CONTOSO and org["displayName"] == "Contoso"
    default = next(d for d in org["verifiedDomains"] if d["isDefault"])
    assert default == {"capabilities": "Email, OfficeCommunicationsOnline", "isDefault": True, "isInitial": False,
                       "type": "Managed", "name": "contoso.example"}  # fmt: skip


async def test_rooms_paging_with_top_and_skip(sbx, admin):
    async with await graph(sbx, admin, DIRECTORY) as g:
        first = await g.get("/places/microsoft.graph.room", params={"$top": "2"})
        rows, pages, _ = await follow(g, first, sbx.url("graph.microsoft.com/v1.0/places"))
        everything = (await g.get("/places/microsoft.graph.room")).json()
    assert pages == 2 and [r["emailAddress"] for r in rows] == [r["emailAddress"] for r in everything["value"]]
    orion = rows[0]
    assert orion["@odata.type"] == "#microsoft.graph.room" and orion["capacity"] == 8 and orion["building"] == "Building 1"
    assert not any(k.startswith("_") for k in orion)
