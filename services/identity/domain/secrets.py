"""Rules for the secrets identity hands out: OAuth state values and confirmation-link tokens.

Both are random values of which only a SHA-256 hash is stored, so a database dump cannot be replayed.
Confirmation tokens are also signed (HMAC by the :class:`~services.identity.ports.LinkSigner`), so a
tampered or made-up token is refused before any lookup, and compared in constant time.

    confirmation token = <nonce>.<signature>      both URL-safe base64 without padding
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from urllib.parse import urlsplit

MAX_STATE_LENGTH = 512
MAX_TOKEN_LENGTH = 512
MAX_RETURN_URI_LENGTH = 2048
_B64URL = re.compile(r"^[A-Za-z0-9_-]{16,200}$")


def secret_hash(value: str) -> str:
    """The SHA-256 of a state value or link token, hex (what the database keeps)."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def same_hash(a: str, b: str) -> bool:
    """Constant-time comparison of two hashes."""
    return hmac.compare_digest(a.encode(), b.encode())


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def link_payload(nonce: str) -> bytes:
    """What the link signature covers (domain-separated from any other use of the key)."""
    return b"rendezvous-identity-confirmation:" + nonce.encode("ascii")


def split_link_token(token: str) -> tuple[str, str] | None:
    """``(nonce, signature)`` of a well-formed token, else None."""
    if not token or len(token) > MAX_TOKEN_LENGTH or token.count(".") != 1:
        return None
    nonce, signature = token.split(".")
    if not _B64URL.match(nonce) or not _B64URL.match(signature):
        return None
    return nonce, signature


def return_uri_problem(uri: str) -> str | None:
    """Why ``uri`` cannot be a return URI (absolute http/https, a host, no fragment), or None."""
    if len(uri) > MAX_RETURN_URI_LENGTH:
        return f"must be at most {MAX_RETURN_URI_LENGTH} characters"
    if any(c.isspace() for c in uri):
        return "must not contain whitespace"
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return "must be an absolute http or https URI"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an absolute http or https URI"
    if "#" in uri:
        return "must not have a fragment"
    if parts.username or parts.password:
        return "must not carry credentials"
    return None
