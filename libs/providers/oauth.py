"""What every provider's OAuth flow shares: PKCE, token responses, and reading ID tokens."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import jwt

from providers._parse import bad, opt_int, opt_str

PKCE_METHOD = "S256"


@dataclass(frozen=True)
class Pkce:
    """A PKCE pair: keep ``verifier`` with the authorization request, send ``challenge`` (S256)."""

    verifier: str = field(repr=False)
    challenge: str


def pkce_challenge(verifier: str) -> str:
    """The S256 code challenge for ``verifier`` (RFC 7636)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def new_pkce() -> Pkce:
    """A fresh random verifier (43 characters) and its S256 challenge."""
    verifier = secrets.token_urlsafe(32)
    return Pkce(verifier=verifier, challenge=pkce_challenge(verifier))


@dataclass(frozen=True)
class TokenSet:
    """A token endpoint's answer. Tokens never show in a repr.

    ``scopes`` is what the provider says it granted (None when it did not say), which can be less than
    what was asked for. ``refresh_token`` is the one to store from now on: a rotated one when the
    provider sent it, else the one the refresh used.
    """

    access_token: str = field(repr=False)
    token_type: str
    expires_at: datetime | None
    scopes: frozenset[str] | None
    refresh_token: str | None = field(default=None, repr=False)
    id_token: str | None = field(default=None, repr=False)
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)


def parse_token_response(
    provider: str, body: Mapping[str, Any], now: datetime, previous_refresh_token: str | None = None
) -> TokenSet:
    """A ``TokenSet`` from a token endpoint's JSON, ``expires_in`` counted from ``now``."""
    data = dict(body)
    access_token = opt_str(data, "access_token")
    if access_token is None:
        raise bad(provider, "token response without access_token")
    expires_in = opt_int(data, "expires_in")
    scope = data.get("scope")
    return TokenSet(
        access_token=access_token,
        token_type=opt_str(data, "token_type") or "Bearer",
        expires_at=now + timedelta(seconds=expires_in) if expires_in is not None else None,
        scopes=frozenset(scope.split()) if isinstance(scope, str) else None,
        refresh_token=opt_str(data, "refresh_token") or previous_refresh_token,
        id_token=opt_str(data, "id_token"),
        raw=data,
    )


def decode_jwt_unverified(provider: str, token: str) -> dict[str, Any]:
    """A JWT's claims without checking its signature.

    Only for ID tokens received directly from the provider's token endpoint over TLS, where the
    channel, not the signature, vouches for them (OpenID Connect Core 3.1.3.7).
    """
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise bad(provider, "unreadable id_token") from None
    if not isinstance(claims, dict):
        raise bad(provider, "unreadable id_token")
    return claims
