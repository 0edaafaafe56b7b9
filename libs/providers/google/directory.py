"""Google Admin SDK Directory API: users (paged) and domains."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from providers._base import ProviderClient, segment
from providers._parse import obj_at, objects, opt_bool, opt_str, req_str
from providers.endpoints import ProviderEndpoints
from providers.error_bodies import google_error
from providers.http import ProviderHttp
from providers.pages import Page

MAX_USERS_PAGE = 500


@dataclass(frozen=True)
class GoogleUser:
    """A Workspace user; ``suspended``/``archived`` drive offboarding."""

    id: str
    primary_email: str
    full_name: str | None
    given_name: str | None
    family_name: str | None
    suspended: bool
    archived: bool
    org_unit_path: str | None
    is_admin: bool
    aliases: tuple[str, ...]
    raw: Mapping[str, Any] = field(repr=False)


@dataclass(frozen=True)
class GoogleDomain:
    """A domain of the customer, with its alias domains."""

    name: str
    is_primary: bool
    verified: bool
    aliases: tuple[str, ...]


class GoogleDirectory(ProviderClient):
    """Directory reads made with an admin's (or a delegated service account's) token."""

    provider = "google"

    def __init__(self, http: ProviderHttp, endpoints: ProviderEndpoints) -> None:
        super().__init__(http, google_error)
        self._base = endpoints.google_admin

    async def iter_users(
        self,
        token: str,
        *,
        customer: str | None = None,
        domain: str | None = None,
        page_size: int = MAX_USERS_PAGE,
        query: str | None = None,
        cursor: str | None = None,
    ) -> AsyncIterator[Page[GoogleUser]]:
        """Yield ``users.list`` page by page, for ``customer`` (default ``my_customer``) or ``domain``.

        Stop whenever you like; ``page.cursor`` resumes at that page.
        """
        if customer and domain:
            raise ValueError("pass customer or domain, not both")
        base: dict[str, str | int] = {"maxResults": min(page_size, MAX_USERS_PAGE)}
        base.update({"domain": domain} if domain else {"customer": customer or "my_customer"})
        if query:
            base["query"] = query
        number = 0
        while True:
            params = dict(base, pageToken=cursor) if cursor else base
            answer = await self._json(
                "GET", f"{self._base}/users", token=token, params=params, idempotent=True
            )
            number += 1
            next_cursor = opt_str(answer, "nextPageToken")
            users = tuple(self._user(u) for u in objects(self.provider, answer, "users"))
            yield Page(items=users, number=number, cursor=cursor, next_cursor=next_cursor)
            if next_cursor is None:
                return
            cursor = next_cursor

    async def list_domains(self, token: str, customer: str = "my_customer") -> list[GoogleDomain]:
        """The customer's domains (not paged)."""
        answer = await self._json(
            "GET", f"{self._base}/customer/{segment(customer)}/domains", token=token, idempotent=True
        )
        return [
            GoogleDomain(
                name=req_str(self.provider, d, "domainName"),
                is_primary=bool(opt_bool(d, "isPrimary", False)),
                verified=bool(opt_bool(d, "verified", False)),
                aliases=tuple(
                    req_str(self.provider, a, "domainAliasName")
                    for a in objects(self.provider, d, "domainAliases")
                ),
            )
            for d in objects(self.provider, answer, "domains")
        ]

    def _user(self, user: dict[str, Any]) -> GoogleUser:
        name = obj_at(user, "name")
        aliases = user.get("aliases")
        return GoogleUser(
            id=req_str(self.provider, user, "id"),
            primary_email=req_str(self.provider, user, "primaryEmail"),
            full_name=opt_str(name, "fullName"),
            given_name=opt_str(name, "givenName"),
            family_name=opt_str(name, "familyName"),
            suspended=bool(opt_bool(user, "suspended", False)),
            archived=bool(opt_bool(user, "archived", False)),
            org_unit_path=opt_str(user, "orgUnitPath"),
            is_admin=bool(opt_bool(user, "isAdmin", False)),
            aliases=tuple(a for a in aliases if isinstance(a, str)) if isinstance(aliases, list) else (),
            raw=user,
        )
