"""Two Graph calls the shared provider client does not have yet, as a subclass (so the shared module
stays untouched; a candidate to move into ``libs/providers``):

* ``/users/delta`` with a page size (``Prefer: odata.maxpagesize``) and a fresh token per page;
* ``GET /users/{email}`` → the object id, or None (404).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeVar

from providers._base import ODATA_SAFE, segment, with_query
from providers._parse import objects, opt_str
from providers.errors import ProviderNotFound
from providers.microsoft.directory import MAX_USERS_TOP, USER_SELECT, GraphDirectory
from providers.pages import DeltaPage, same_origin

T = TypeVar("T")


class PagedGraphDirectory(GraphDirectory):
    async def iter_users_delta_sized(
        self,
        token: Callable[[], Awaitable[str]],
        delta_link: str | None,
        page_size: int,
        *,
        cursor: str | None = None,
        select: Sequence[str] = USER_SELECT,
        build: Callable[[dict[str, Any]], T] | None = None,
    ) -> AsyncIterator[DeltaPage[T]]:
        """Like ``iter_users_delta``, asking for ``page_size`` users per page (at most 999) and a
        token from ``token()`` for every page. ``cursor`` resumes at a page's link. ``build`` makes
        each item from its JSON object (default: a ``GraphUser``)."""
        make: Callable[[dict[str, Any]], Any] = build or self._user
        first = with_query(f"{self._base}/users/delta", {"$select": ",".join(select)}, safe=ODATA_SAFE)
        url = cursor or delta_link or first
        headers = {"Prefer": f"odata.maxpagesize={max(1, min(page_size, MAX_USERS_TOP))}"}
        number = 0
        while True:
            answer = await self._json(
                "GET", same_origin(self.provider, url, self._base), token=await token(), headers=headers,
                idempotent=True,
            )  # fmt: skip
            number += 1
            next_link = opt_str(answer, "@odata.nextLink")
            items = tuple(make(row) for row in objects(self.provider, answer, "value"))
            yield DeltaPage(items=items, number=number, cursor=url, next_cursor=next_link,
                            delta_link=opt_str(answer, "@odata.deltaLink"))  # fmt: skip
            if next_link is None:
                return
            url = next_link

    async def user_id(self, token: str, email: str) -> str | None:
        """The object id of the user with this UPN or mail, or None."""
        try:
            answer = await self._json(
                "GET", f"{self._base}/users/{segment(email)}", token=token, params={"$select": "id"}, idempotent=True
            )
        except ProviderNotFound:
            return None
        return opt_str(answer, "id")
