"""Microsoft Graph directory reads: users, the users delta feed, the organization and rooms."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from providers._base import ODATA_SAFE, ProviderClient, with_query
from providers._parse import bad, obj_at, objects, opt_bool, opt_int, opt_str, req_str
from providers.endpoints import ProviderEndpoints
from providers.error_bodies import graph_error
from providers.http import ProviderHttp
from providers.pages import DeltaPage, Page, same_origin

T = TypeVar("T")

USER_SELECT = ("id", "displayName", "mail", "userPrincipalName", "accountEnabled", "userType")
MAX_USERS_TOP = 999


@dataclass(frozen=True)
class GraphUser:
    """A directory user, keyed by object ``id``. In a delta feed, ``removed`` says why it left
    (``changed``: soft-deleted, ``deleted``: gone for good) and the other fields are empty."""

    id: str
    display_name: str | None
    mail: str | None
    user_principal_name: str | None
    account_enabled: bool | None
    user_type: str | None
    removed: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class VerifiedDomain:
    """A domain the tenant has proven it owns."""

    name: str
    is_default: bool
    is_initial: bool
    type: str | None


@dataclass(frozen=True)
class GraphOrganization:
    """The tenant: its id and verified domains."""

    id: str
    display_name: str | None
    verified_domains: tuple[VerifiedDomain, ...]


@dataclass(frozen=True)
class GraphRoom:
    """A room place."""

    id: str
    email: str
    display_name: str | None
    capacity: int | None
    building: str | None
    floor_number: int | None
    raw: Mapping[str, Any] = field(repr=False)


class GraphDirectory(ProviderClient):
    """Directory reads, usually with an app-only token (``User.Read.All`` and friends)."""

    provider = "microsoft"

    def __init__(self, http: ProviderHttp, endpoints: ProviderEndpoints) -> None:
        super().__init__(http, graph_error)
        self._base = endpoints.microsoft_graph

    async def iter_users(
        self,
        token: str,
        select: Sequence[str] = USER_SELECT,
        top: int = MAX_USERS_TOP,
        *,
        cursor: str | None = None,
    ) -> AsyncIterator[Page[GraphUser]]:
        """Yield ``/users`` page by page, following ``@odata.nextLink`` verbatim.

        ``page.cursor`` (a link) passed back as ``cursor`` resumes at that page.
        """
        first = with_query(
            f"{self._base}/users",
            {"$select": ",".join(select), "$top": str(min(top, MAX_USERS_TOP))},
            safe=ODATA_SAFE,
        )
        async for page in self._pages(token, cursor or first, cursor, self._user):
            yield page

    async def iter_users_delta(
        self, token: str, delta_link: str | None = None, select: Sequence[str] = USER_SELECT
    ) -> AsyncIterator[DeltaPage[GraphUser]]:
        """Yield ``/users/delta`` pages: a full read without ``delta_link``, changes since it with one.

        Removed users come flagged (``GraphUser.removed``); the last page carries the next delta link.
        """
        first = with_query(f"{self._base}/users/delta", {"$select": ",".join(select)}, safe=ODATA_SAFE)
        async for page in self._pages(token, delta_link or first, delta_link, self._user):
            yield page

    async def get_organization(self, token: str) -> GraphOrganization:
        """The tenant the token belongs to."""
        answer = await self._json("GET", f"{self._base}/organization", token=token, idempotent=True)
        orgs = objects(self.provider, answer, "value")
        if not orgs:
            raise bad(self.provider, "no organization in the answer")
        org = orgs[0]
        return GraphOrganization(
            id=req_str(self.provider, org, "id"),
            display_name=opt_str(org, "displayName"),
            verified_domains=tuple(
                VerifiedDomain(
                    name=req_str(self.provider, d, "name"),
                    is_default=bool(opt_bool(d, "isDefault", False)),
                    is_initial=bool(opt_bool(d, "isInitial", False)),
                    type=opt_str(d, "type"),
                )
                for d in objects(self.provider, org, "verifiedDomains")
            ),
        )

    async def iter_rooms(self, token: str, *, cursor: str | None = None) -> AsyncIterator[Page[GraphRoom]]:
        """Yield the tenant's rooms page by page (``/places/microsoft.graph.room``)."""
        first = f"{self._base}/places/microsoft.graph.room"
        async for page in self._pages(token, cursor or first, cursor, self._room):
            yield page

    async def _pages(
        self, token: str, url: str, cursor: str | None, build: Callable[[dict[str, Any]], T]
    ) -> AsyncIterator[DeltaPage[T]]:
        number = 0
        while True:
            answer = await self._json(
                "GET", same_origin(self.provider, url, self._base), token=token, idempotent=True
            )
            number += 1
            next_link = opt_str(answer, "@odata.nextLink")
            items = tuple(build(row) for row in objects(self.provider, answer, "value"))
            yield DeltaPage(
                items=items,
                number=number,
                cursor=cursor,
                next_cursor=next_link,
                delta_link=opt_str(answer, "@odata.deltaLink"),
            )
            if next_link is None:
                return
            url = cursor = next_link

    def _user(self, row: dict[str, Any]) -> GraphUser:
        removed = obj_at(row, "@removed")
        return GraphUser(
            id=req_str(self.provider, row, "id"),
            display_name=opt_str(row, "displayName"),
            mail=opt_str(row, "mail"),
            user_principal_name=opt_str(row, "userPrincipalName"),
            account_enabled=opt_bool(row, "accountEnabled"),
            user_type=opt_str(row, "userType"),
            removed=(opt_str(removed, "reason") or "deleted") if "@removed" in row else None,
            raw=row,
        )

    def _room(self, row: dict[str, Any]) -> GraphRoom:
        return GraphRoom(
            id=req_str(self.provider, row, "id"),
            email=req_str(self.provider, row, "emailAddress"),
            display_name=opt_str(row, "displayName"),
            capacity=opt_int(row, "capacity"),
            building=opt_str(row, "building"),
            floor_number=opt_int(row, "floorNumber"),
            raw=row,
        )
