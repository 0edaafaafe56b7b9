"""kit.tokens.with_replaced_token: one more call with the token identity replaces, and only then."""

from __future__ import annotations

import pytest

from kit.tokens import with_replaced_token


class Refused(Exception):
    pass


class Identity:
    def __init__(self) -> None:
        self.asked: list[str] = []  # the rejected hint of each request

    async def token(self, rejected: str) -> str:
        self.asked.append(rejected)
        return f"t{len(self.asked)}"


def provider(refusing: set[str], seen: list[str], error: type[Exception] = Refused):
    async def call(access: str) -> str:
        seen.append(access)
        if access in refusing:
            raise error(access)
        return f"answer with {access}"

    return call


async def test_an_accepted_token_is_asked_for_once():
    identity, seen = Identity(), []
    assert await with_replaced_token(identity.token, provider(set(), seen), Refused) == "answer with t1"
    assert (identity.asked, seen) == ([""], ["t1"])


async def test_a_refused_token_is_handed_back_and_the_call_made_with_the_replacement():
    identity, seen = Identity(), []
    assert await with_replaced_token(identity.token, provider({"t1"}, seen), Refused) == "answer with t2"
    assert (identity.asked, seen) == (["", "t1"], ["t1", "t2"])


async def test_a_second_refusal_reaches_the_caller():
    identity, seen = Identity(), []
    with pytest.raises(Refused, match="t2"):
        await with_replaced_token(identity.token, provider({"t1", "t2"}, seen), Refused)
    assert seen == ["t1", "t2"]


async def test_other_errors_are_not_retried():
    identity, seen = Identity(), []
    with pytest.raises(ValueError):
        await with_replaced_token(identity.token, provider({"t1"}, seen, ValueError), Refused)
    assert (identity.asked, seen) == ([""], ["t1"])
