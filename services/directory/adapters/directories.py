"""The ``DirectoryReader`` port over the provider clients: Google Admin SDK Directory, Microsoft Graph
and SAP SuccessFactors, each reduced to pages of ``DirectoryUser``.

* Google: ``domains.list`` (verified domains and aliases), then ``users.list`` for ``my_customer`` —
  always a full read; suspended or archived users are SUSPENDED, deleted ones are simply not listed.
* Microsoft: ``/organization`` (verified domains), then ``/users/delta`` — a full read without a stored
  delta link, only the changes with one; ``@removed`` users are DELETED, disabled ones SUSPENDED, guests
  are never onboarded. A refused delta link (410 sync reset, ``syncStateNotFound``) is ``CursorExpired``.
  Rooms come from ``/places/microsoft.graph.room``.
* SuccessFactors: OData ``User`` with every status (inactive users must be seen to be offboarded),
  only those changed since the high-water mark (minus an overlap) when one is stored; status ``t``/``T``
  is active, ``d`` deleted, any other status SUSPENDED.

Provider errors become ``ListingFailed`` naming the page (and its cursor) that could not be read; a
401 is retried once per page with a fresh token (the refused one handed back to identity as
rejected). Throttling (429 with Retry-After) is waited out by ``ProviderHttp`` before it ever gets here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from typing import Any

from kit.tokens import with_replaced_token
from providers import ProviderEndpoints, Providers
from providers.errors import (
    ProviderAuthError,
    ProviderBadRequest,
    ProviderError,
    ProviderNotFound,
    ProviderRateLimited,
    ProviderResponseError,
    ProviderUnavailable,
)
from providers.google.directory import GoogleUser
from providers.pages import Page
from providers.successfactors import SuccessFactorsUser
from services.directory.adapters.graph_extra import PagedGraphDirectory
from services.directory.domain.model import Provider
from services.directory.domain.sync import DirectoryRoom, DirectoryUser, UserStatus
from services.directory.ports import (
    CursorExpired,
    DirectoryRead,
    ListingFailed,
    ReadRequest,
    TokenSource,
    UserPage,
)

SUCCESSFACTORS_OVERLAP = timedelta(minutes=5)
LISTING_FAILED = "DIRECTORY_LISTING_FAILED"


def provider_reason(error: ProviderError) -> str:
    """The ErrorReason for a provider failure outside the users listing."""
    if isinstance(error, ProviderRateLimited):
        return "PROVIDER_RATE_LIMITED"
    if isinstance(error, ProviderUnavailable):
        return "PROVIDER_UNAVAILABLE"
    return "PROVIDER_REJECTED"


class ProviderDirectoryReader:
    def __init__(self, providers: Providers, endpoints: ProviderEndpoints) -> None:
        self._providers = providers
        self._graph = PagedGraphDirectory(providers.http, endpoints)

    def open(self, request: ReadRequest, token: TokenSource) -> DirectoryRead:
        if request.provider is Provider.GOOGLE:
            return GoogleRead(self._providers, request, token)
        if request.provider is Provider.MICROSOFT:
            return GraphRead(self._providers, self._graph, request, token)
        if request.provider is Provider.SUCCESSFACTORS:
            return SuccessFactorsRead(self._providers, request, token)
        raise ValueError(f"{request.provider} is not a directory")


class _Read:
    """Streams pages with one retry per page after a 401, and says where a failure stopped."""

    incremental = False
    next_cursor = ""

    def __init__(self, request: ReadRequest, token: TokenSource) -> None:
        self._request = request
        self._token = token

    async def verified_domains(self) -> frozenset[str] | None:
        return None

    async def rooms(self) -> list[DirectoryRoom] | None:
        return None

    async def _stream(self, iterate: Callable[[str, str | None], AsyncIterator[Page[Any]]],
                      convert: Callable[[Any], DirectoryUser | None]) -> AsyncIterator[UserPage]:  # fmt: skip
        cursor: str | None = None
        number = 0
        retried = False
        token = ""
        while True:
            try:
                token = await self._token(rejected=token if retried else "")
                async for page in iterate(token, cursor):
                    number += 1
                    self._seen_page(page)
                    users = tuple(u for u in (convert(item) for item in page.items) if u is not None)
                    yield UserPage(number, users)
                    cursor, retried = page.next_cursor, False
                return
            except ProviderAuthError as error:
                if retried:
                    raise self._failed(error, number + 1, cursor) from error
                retried = True  # revoked, or expired during a long read: once more with a token identity replaced
            except (ProviderNotFound, ProviderBadRequest) as error:
                if self._request.cursor and number == 0 and self._cursor_refused(error):
                    raise CursorExpired() from error
                raise self._failed(error, number + 1, cursor) from error
            except ProviderError as error:
                raise self._failed(error, number + 1, cursor) from error

    def _seen_page(self, page: Page[Any]) -> None:
        """Hook: remember what a page says about the next cursor."""

    def _cursor_refused(self, error: ProviderError) -> bool:
        return False

    @staticmethod
    def _failed(error: ProviderError, number: int, cursor: str | None) -> ListingFailed:
        where = f"page {number}" + (f" (cursor {cursor})" if cursor else " (the first page)")
        return ListingFailed(LISTING_FAILED, f"reading {where} failed: {error}", where)

    async def _once(self, call: Callable[[str], Any], what: str) -> Any:
        """A single call before the listing (domains, organization, rooms), with one 401 retry."""
        try:
            return await with_replaced_token(self._token, call, ProviderAuthError)
        except ProviderError as error:
            raise ListingFailed(provider_reason(error), f"reading {what} failed: {error}", what) from error


class GoogleRead(_Read):
    def __init__(self, providers: Providers, request: ReadRequest, token: TokenSource) -> None:
        super().__init__(request, token)
        self._directory = providers.google.directory

    async def verified_domains(self) -> frozenset[str] | None:
        domains = await self._once(lambda t: self._directory.list_domains(t), "the domains")
        names = {d.name.lower() for d in domains if d.verified}
        names |= {a.lower() for d in domains if d.verified for a in d.aliases}
        return frozenset(names)

    def pages(self) -> AsyncIterator[UserPage]:
        size = min(self._request.page_size, 500)
        return self._stream(
            lambda token, cursor: self._directory.iter_users(token, customer="my_customer", page_size=size, cursor=cursor),
            _google_user,
        )


def _google_user(user: GoogleUser) -> DirectoryUser:
    name = user.full_name or " ".join(p for p in (user.given_name, user.family_name) if p)
    status = UserStatus.SUSPENDED if user.suspended or user.archived else UserStatus.ACTIVE
    return DirectoryUser(user.id, user.primary_email, name, status)


class GraphRead(_Read):
    def __init__(self, providers: Providers, graph: PagedGraphDirectory, request: ReadRequest,
                 token: TokenSource) -> None:  # fmt: skip
        super().__init__(request, token)
        self._graph = graph
        self.incremental = bool(request.cursor)

    async def verified_domains(self) -> frozenset[str] | None:
        organization = await self._once(lambda t: self._graph.get_organization(t), "the organization")
        return frozenset(d.name.lower() for d in organization.verified_domains)

    def pages(self) -> AsyncIterator[UserPage]:
        def iterate(_: str, cursor: str | None) -> AsyncIterator[Page[DirectoryUser]]:
            return self._graph.iter_users_delta_sized(
                self._token, self._request.cursor or None, self._request.page_size, cursor=cursor, build=_graph_row
            )

        return self._stream(iterate, lambda user: user)

    def _seen_page(self, page: Page[Any]) -> None:
        delta_link = getattr(page, "delta_link", None)
        if delta_link:
            self.next_cursor = delta_link

    def _cursor_refused(self, error: ProviderError) -> bool:
        return (isinstance(error, ProviderNotFound) and error.gone) or error.provider_code in (
            "syncStateNotFound", "resyncRequired", "SyncStateNotFound",
        )  # fmt: skip

    async def rooms(self) -> list[DirectoryRoom] | None:
        async def every_room(token: str) -> list[DirectoryRoom]:
            found = []
            async for page in self._graph.iter_rooms(token):
                found += [DirectoryRoom(r.id, r.email, r.display_name or r.email, r.capacity or 0, r.building or "",
                                        r.floor_number) for r in page.items]  # fmt: skip
            return found

        result: list[DirectoryRoom] = await self._once(every_room, "the rooms")
        return result


def _graph_row(row: dict[str, Any]) -> DirectoryUser:
    """A Graph user object straight to a ``DirectoryUser`` (100,000s per run: no intermediate object)."""
    user_id = row.get("id")
    if not isinstance(user_id, str) or not user_id:
        raise ProviderResponseError("microsoft: unexpected response: missing 'id'", provider="microsoft")
    email = _text(row.get("mail")) or _text(row.get("userPrincipalName"))
    if "@removed" in row or _text(row.get("userType")).lower() == "guest":
        status = UserStatus.DELETED
    elif row.get("accountEnabled") is False:
        status = UserStatus.SUSPENDED
    else:
        status = UserStatus.ACTIVE
    return DirectoryUser(user_id, email, _text(row.get("displayName")), status)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


class SuccessFactorsRead(_Read):
    def __init__(self, providers: Providers, request: ReadRequest, token: TokenSource) -> None:
        super().__init__(request, token)
        self._client = providers.successfactors
        self._since = _parse_mark(request.cursor)
        self.incremental = self._since is not None
        self._high_water: datetime | None = self._since
        self.next_cursor = request.cursor

    def pages(self) -> AsyncIterator[UserPage]:
        since = self._since - SUCCESSFACTORS_OVERLAP if self._since else None
        return self._stream(
            lambda token, cursor: self._client.iter_users(
                token, self._request.api_server_url, modified_since=since, include_inactive=True, cursor=cursor
            ),
            self._user,
        )

    def _user(self, user: SuccessFactorsUser) -> DirectoryUser:
        if user.last_modified is not None and (self._high_water is None or user.last_modified > self._high_water):
            self._high_water = user.last_modified
            self.next_cursor = user.last_modified.isoformat()
        status = user.status or ""
        if user.active:
            state = UserStatus.ACTIVE
        elif status == "d":
            state = UserStatus.DELETED
        else:
            state = UserStatus.SUSPENDED
        name = user.display_name or " ".join(p for p in (user.first_name, user.last_name) if p) or (user.username or "")
        return DirectoryUser(user.user_id, user.email or "", name, state)


def _parse_mark(cursor: str) -> datetime | None:
    try:
        return datetime.fromisoformat(cursor) if cursor else None
    except ValueError:
        return None
