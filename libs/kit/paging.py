"""Opaque page tokens and page-size rules shared by every List RPC.

A token is URL-safe base64 of a small JSON object (the last key seen plus a digest of the
filters it was issued for), so a token cannot be replayed against a different query.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from kit.errors import InvalidArgument

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a List answer; ``next_page_token`` is empty on the last page."""

    items: list[T]
    next_page_token: str


@dataclass(frozen=True)
class PageRequest:
    size: int
    after: Any | None  # the cursor decoded from page_token, None for the first page


def page_request(page_size: int, page_token: str, *, default: int = 50, maximum: int = 500, query: str = "") -> PageRequest:
    """Validate ``page_size``/``page_token`` (INVALID_ARGUMENT naming the field)."""
    if page_size < 0:
        raise InvalidArgument.field("page_size", "must not be negative")
    size = default if page_size == 0 else min(page_size, maximum)
    if not page_token:
        return PageRequest(size, None)
    try:
        raw = json.loads(base64.urlsafe_b64decode(page_token.encode() + b"=" * (-len(page_token) % 4)))
        cursor, digest = raw["c"], raw["q"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise InvalidArgument.field("page_token", "is not a token this service issued") from None
    if digest != _digest(query):
        raise InvalidArgument.field("page_token", "was issued for a different query")
    return PageRequest(size, cursor)


def next_page_token(cursor: Any, *, query: str = "") -> str:
    body = json.dumps({"c": cursor, "q": _digest(query)}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(body).decode().rstrip("=")


def _digest(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()[:12]
