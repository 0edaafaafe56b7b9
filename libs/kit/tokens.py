"""Calling a provider with an access token that the provider may refuse before it expires.

    answer = await with_replaced_token(token, lambda access: client.read(access, ...), TokenRejected)

``token(rejected)`` asks identity for a token (``GetAccessToken``; ``rejected`` is its
``rejected_access_token``: "" the first time, then the token the provider refused, which identity
replaces rather than hand out again). A token revoked or rotated at the provider is refused (HTTP
401) although identity still holds it as valid; one more call with the replaced token recovers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def with_replaced_token(
    token: Callable[[str], Awaitable[str]],
    call: Callable[[str], Awaitable[T]],
    refused: type[BaseException] | tuple[type[BaseException], ...],
) -> T:
    """``call(token(""))``; when that raises ``refused``, ``call`` once more with ``token(<the refused
    token>)``. A second refusal reaches the caller."""
    first = await token("")
    try:
        return await call(first)
    except refused:
        pass
    return await call(await token(first))
