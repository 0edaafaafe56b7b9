"""Admin SDK Directory users.list / users.get / domains.list over HTTP."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from sandbox.testing import SandboxAdmin, SandboxHandle, running_sandbox

S = "https://www.googleapis.com/auth/"
GRACE, GRACE_ID = "grace@northwind.example", "103400000000000000002"
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
    scopes = [S + "admin.directory.user.readonly", S + "admin.directory.domain.readonly"]
    token = await admin.issue_token("google", scopes=scopes, subject=GRACE_ID, email=GRACE)
    async with sbx.client("admin.googleapis.com/admin/directory/v1", token) as client:
        yield client


async def list_all(
    api: httpx.AsyncClient, **params: Any
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    users: list[dict[str, Any]] = []
    pages: list[dict[str, Any]] = []
    token = None
    while True:
        response = await api.get("/users", params={**params, **({"pageToken": token} if token else {})})
        assert response.status_code == 200, response.text
        page = response.json()
        pages.append(page)
        users.extend(page.get("users", []))
        token = page.get("nextPageToken")
        if not token:
            return users, pages


async def test_users_list_shape_and_order(api: httpx.AsyncClient) -> None:
    users, pages = await list_all(api, customer="my_customer")
    assert len(pages) == 1 and "nextPageToken" not in pages[0]
    assert pages[0]["kind"] == "admin#directory#users" and "etag" in pages[0]
    assert [u["primaryEmail"] for u in users] == sorted(u["primaryEmail"] for u in users) and len(users) == 8
    ada = users[0]
    assert ada["kind"] == "admin#directory#user" and ada["id"] == ADA_ID
    assert ada["name"] == {"givenName": "Ada", "familyName": "Lovelace", "fullName": "Ada Lovelace"}
    assert ada["suspended"] is False and ada["archived"] is False and ada["customerId"] == "C01northwind"
    assert ada["orgUnitPath"] == "/Engineering" and ada["isAdmin"] is False
    edsger = next(u for u in users if u["primaryEmail"].startswith("edsger"))
    assert edsger["suspended"] is True and edsger["suspensionReason"] == "ADMIN"


async def test_paging_has_a_token_on_every_page_but_the_last(api: httpx.AsyncClient) -> None:
    users, pages = await list_all(api, domain="northwind.example", maxResults=3)
    assert [len(p["users"]) for p in pages] == [3, 3, 2]
    assert all("nextPageToken" in p for p in pages[:-1]) and "nextPageToken" not in pages[-1]
    assert len({u["id"] for u in users}) == 8


async def test_queries_filter_and_show_deleted_lists_only_deleted(
    api: httpx.AsyncClient, admin: SandboxAdmin
) -> None:
    active, _ = await list_all(api, customer="my_customer", query="isSuspended=false")
    assert len(active) == 7
    found, _ = await list_all(api, customer="my_customer", query="email:ada*")
    assert [u["primaryEmail"] for u in found] == [ADA]
    sales, _ = await list_all(
        api, customer="my_customer", query="orgUnitPath='/Sales' isSuspended=false", projection="full"
    )
    assert {u["name"]["givenName"] for u in sales} == {"Katherine", "Margaret"}
    await admin.update_user("google", "alan@northwind.example", deleted=True)
    remaining, _ = await list_all(api, customer="my_customer")
    deleted, pages = await list_all(api, customer="my_customer", showDeleted="true")
    assert len(remaining) == 7 and [u["primaryEmail"] for u in deleted] == ["alan@northwind.example"]
    nobody, pages = await list_all(api, customer="my_customer", query="email:zed*")
    assert nobody == [] and "users" not in pages[0], "an empty page has no users key"


async def test_descending_and_name_order(api: httpx.AsyncClient) -> None:
    users, _ = await list_all(
        api, customer="my_customer", orderBy="email", sortOrder="DESCENDING", maxResults=5
    )
    assert users[0]["primaryEmail"].startswith("margaret") and users[-1]["primaryEmail"] == ADA
    by_family, _ = await list_all(api, customer="my_customer", orderBy="familyName")
    assert by_family[0]["name"]["familyName"] == "Dijkstra"


@pytest.mark.parametrize(
    ("params", "status", "reason"),
    [
        ({}, 400, "badRequest"),
        ({"customer": "my_customer", "maxResults": 501}, 400, "invalidParameter"),
        ({"customer": "my_customer", "maxResults": 0}, 400, "invalidParameter"),
        ({"customer": "my_customer", "query": "shoeSize=9"}, 400, "invalid"),
        ({"customer": "my_customer", "orderBy": "age"}, 400, "invalid"),
        ({"customer": "my_customer", "pageToken": "garbage!"}, 400, "invalid"),
        ({"customer": "C99someoneelse"}, 403, "forbidden"),
        ({"domain": "contoso.example"}, 403, "forbidden"),
    ],
)
async def test_users_list_errors(
    api: httpx.AsyncClient, params: dict[str, Any], status: int, reason: str
) -> None:
    response = await api.get("/users", params=params)
    assert response.status_code == status
    assert response.json()["error"]["errors"][0]["reason"] == reason


async def test_max_results_message_is_googles(api: httpx.AsyncClient) -> None:
    response = await api.get("/users", params={"customer": "my_customer", "maxResults": 1000})
    error = response.json()["error"]
    assert error["message"] == "Invalid value '1000'. Values must be within the range: [1, 500]"
    assert error["errors"][0]["location"] == "maxResults"


async def test_non_admins_are_not_authorized_unless_domain_public(
    sbx: SandboxHandle, admin: SandboxAdmin
) -> None:
    token = await admin.issue_token(
        "google",
        scopes=[S + "admin.directory.user.readonly", S + "admin.directory.domain.readonly"],
        subject=ADA_ID,
        email=ADA,
    )
    async with sbx.client("admin.googleapis.com/admin/directory/v1", token) as api:
        refused = await api.get("/users", params={"customer": "my_customer"})
        assert refused.status_code == 403
        assert refused.json()["error"] == {
            "code": 403,
            "message": "Not Authorized to access this resource/api",
            "errors": [
                {
                    "message": "Not Authorized to access this resource/api",
                    "domain": "global",
                    "reason": "forbidden",
                }
            ],
        }
        assert (await api.get("/customer/my_customer/domains")).status_code == 403
        public = (
            await api.get("/users", params={"customer": "my_customer", "viewType": "domain_public"})
        ).json()
        assert set(public["users"][0]) == {"kind", "id", "etag", "primaryEmail", "name", "emails"}
        me = await api.get(f"/users/{ADA}")
        assert me.status_code == 200


async def test_users_get(api: httpx.AsyncClient) -> None:
    by_email = (await api.get(f"/users/{ADA}")).json()
    by_id = (await api.get(f"/users/{ADA_ID}")).json()
    by_alias = (await api.get("/users/ada@nw.example")).json()
    assert by_email == by_id == by_alias
    missing = await api.get("/users/ghost@northwind.example")
    assert missing.status_code == 404 and missing.json()["error"]["errors"][0]["reason"] == "notFound"


async def test_domains_list(api: httpx.AsyncClient) -> None:
    body = (await api.get("/customer/my_customer/domains")).json()
    assert body["kind"] == "admin#directory#domains"
    [domain] = body["domains"]
    assert (
        domain["domainName"] == "northwind.example"
        and domain["isPrimary"] is True
        and domain["verified"] is True
    )
    assert domain["domainAliases"][0]["domainAliasName"] == "nw.example"
    assert domain["domainAliases"][0]["parentDomainName"] == "northwind.example"
    assert (await api.get("/customer/C01northwind/domains")).status_code == 200
    assert (await api.get("/customer/C99other/domains")).status_code == 403


async def test_admin_suspension_shows_in_the_next_listing(
    api: httpx.AsyncClient, admin: SandboxAdmin
) -> None:
    await admin.update_user("google", ADA, suspended=True)
    users, _ = await list_all(api, customer="my_customer", query="isSuspended=true")
    assert {u["primaryEmail"] for u in users} == {ADA, "edsger@northwind.example"}


async def test_pages_through_twenty_thousand_bulk_users(api: httpx.AsyncClient, admin: SandboxAdmin) -> None:
    await admin.bulk_users(
        "google", tenant="C01northwind", domain="northwind.example", count=20_000, prefix="bulk"
    )
    users, pages = await list_all(api, customer="my_customer", maxResults=500)
    assert len(users) == 20_008 and len(pages) == 41
    assert len({u["id"] for u in users}) == 20_008
