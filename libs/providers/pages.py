"""Pages of a listed collection, yielded one at a time so a caller can stop and say where."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

import httpx

from providers._parse import bad

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of results.

    ``cursor`` fetched this page (None for the first) and ``next_cursor`` fetches the next (None on the
    last). Both are opaque: a page token, or an absolute link the provider gave. Passing ``cursor`` back
    to the same iterator resumes at this page. ``number`` counts from 1.
    """

    items: tuple[T, ...]
    number: int
    cursor: str | None
    next_cursor: str | None

    @property
    def last(self) -> bool:
        return self.next_cursor is None


@dataclass(frozen=True)
class DeltaPage(Page[T]):
    """A page of a change feed; the last page carries the ``delta_link`` to ask for later changes."""

    delta_link: str | None = None


def same_origin(provider: str, link: str, base: str) -> str:
    """``link`` if it points at ``base``'s scheme, host and port; a bearer token must not leave it."""
    target, origin = httpx.URL(link), httpx.URL(base)
    if (target.scheme, target.host, target.port) != (origin.scheme, origin.host, origin.port):
        raise bad(provider, "paging link points at another host")
    return link
