"""One driver per directory the sandbox emulates: how to connect it, how to change its users through
the sandbox's admin API, and an independent reading of its users (raw HTTP, not the adapter under
test) that the tests compare the accounts with."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from rendezvous.common.v1 import common_pb2 as common
from rendezvous.directory.v1 import directory_service_pb2 as pb
from sandbox.testing import SandboxAdmin

from .identity_standin import CONTOSO, IdentityStandin


@dataclass(frozen=True)
class Truth:
    """What the directory itself says about one user."""

    email: str
    active: bool


@dataclass
class Driver:
    name: str
    provider: int
    domain: str
    users_route: str
    credential: Callable[[IdentityStandin, str], str]
    listing: Callable[[str, str], Awaitable[dict[str, Truth]]]
    rename_fields: Callable[[str], dict[str, Any]]
    suspend_fields: dict[str, Any]
    bulk_tenant: str
    api_server_url: str = ""
    keep: frozenset[str] = frozenset()  # users the credential itself depends on (never changed by tests)

    def victims(self, accounts: dict[str, Any], count: int) -> list[str]:
        """``count`` external ids of accounts tests may rename, suspend or delete."""
        return sorted(k for k, a in accounts.items() if a.email not in self.keep)[:count]

    async def connect(self, directory: Any, standin: IdentityStandin, unit_id: str, ratio: float = 0.0) -> str:
        credential = self.credential(standin, unit_id)
        answer = await directory.call("ConnectDirectoryService", pb.ConnectDirectoryServiceRequest(
            org_unit_id=unit_id, provider=self.provider, credential_id=credential, domains=[self.domain],
            max_deactivation_ratio=ratio, api_server_url=self.api_server_url))  # fmt: skip
        return str(answer.directory_connection.id)

    async def truth(self, sandbox_url: str, standin: IdentityStandin, unit_id: str) -> dict[str, Truth]:
        credential = next(i for i in standin.credentials.values() if i.credential.org_unit_id == unit_id)
        token = await credential.mint()
        return {k: v for k, v in (await self.listing(sandbox_url, token)).items() if v.email.endswith("@" + self.domain)}

    async def rename(self, admin: SandboxAdmin, external_id: str, email: str) -> None:
        await admin.update_user(self.name, external_id, **self.rename_fields(email))

    async def suspend(self, admin: SandboxAdmin, external_id: str) -> None:
        await admin.update_user(self.name, external_id, **self.suspend_fields)

    async def delete(self, admin: SandboxAdmin, external_id: str) -> None:
        await admin.update_user(self.name, external_id, deleted=True)


async def _get(url: str, token: str, params: dict[str, str] | None = None) -> dict[str, Any]:
    async with httpx.AsyncClient() as client:
        answer = await client.get(url, params=params, headers={"Authorization": f"Bearer {token}"})
        answer.raise_for_status()
        result: dict[str, Any] = answer.json()
        return result


async def graph_listing(base: str, token: str) -> dict[str, Truth]:
    url: str | None = f"{base}/graph.microsoft.com/v1.0/users"
    params: dict[str, str] | None = {"$select": "id,mail,userPrincipalName,accountEnabled,userType", "$top": "999"}
    found = {}
    while url:
        page = await _get(url, token, params)
        for u in page["value"]:
            active = bool(u["accountEnabled"]) and u.get("userType") != "Guest"
            found[u["id"]] = Truth((u["mail"] or u["userPrincipalName"]).lower(), active)
        url, params = page.get("@odata.nextLink"), None
    return found


async def google_listing(base: str, token: str) -> dict[str, Truth]:
    found, page_token = {}, ""
    while True:
        params = {"customer": "my_customer", "maxResults": "500", **({"pageToken": page_token} if page_token else {})}
        page = await _get(f"{base}/admin.googleapis.com/admin/directory/v1/users", token, params)
        for u in page.get("users", []):
            found[u["id"]] = Truth(u["primaryEmail"].lower(), not u.get("suspended") and not u.get("archived"))
        page_token = page.get("nextPageToken", "")
        if not page_token:
            return found


async def successfactors_listing(base: str, token: str) -> dict[str, Truth]:
    url: str | None = f"{base}/successfactors/odata/v2/User"
    params: dict[str, str] | None = {"$select": "userId,email,status", "$format": "json",
                                     "$filter": "status in 't','f','T','F','e','d'"}  # fmt: skip
    found = {}
    while url:
        page = (await _get(url, token, params))["d"]
        for u in page["results"]:
            found[u["userId"]] = Truth((u["email"] or "").lower(), u["status"] in ("t", "T"))
        url, params = page.get("__next"), None
    return found


MICROSOFT = Driver(
    name="microsoft", provider=common.PROVIDER_MICROSOFT, domain="contoso.example", users_route="microsoft.users.delta",
    credential=lambda s, unit: s.microsoft(unit), listing=graph_listing,
    rename_fields=lambda email: {"mail": email, "userPrincipalName": email}, suspend_fields={"accountEnabled": False},
    bulk_tenant=CONTOSO,
)  # fmt: skip
GOOGLE = Driver(
    name="google", provider=common.PROVIDER_GOOGLE, domain="northwind.example",
    users_route="google.directory.users.list", credential=lambda s, unit: s.google(unit), listing=google_listing,
    rename_fields=lambda email: {"primaryEmail": email}, suspend_fields={"suspended": True}, bulk_tenant="C01northwind",
)  # fmt: skip
SUCCESSFACTORS = Driver(
    name="successfactors", provider=common.PROVIDER_SUCCESSFACTORS, domain="fabrikam.example",
    users_route="successfactors.User.list", credential=lambda s, unit: s.successfactors(unit),
    listing=successfactors_listing, rename_fields=lambda email: {"email": email}, suspend_fields={"status": "f"},
    bulk_tenant="FABRIKAM", api_server_url="https://api4.successfactors.example",
    keep=frozenset({"sfapi@fabrikam.example"}),
)  # fmt: skip
DRIVERS = [MICROSOFT, GOOGLE, SUCCESSFACTORS]
