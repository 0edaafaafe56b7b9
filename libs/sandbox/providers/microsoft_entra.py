"""Shared Entra ID (identity platform) helpers: the error JSON, scope names and the id_token signing key."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa

from sandbox.core import OAuthClient, json_response
from sandbox.providers.microsoft_graph import GRAPH_RESOURCE

LOGIN = "/login.microsoftonline.com"
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
OIDC_SCOPES = ("openid", "profile", "email", "offline_access")
#: Delegated permissions a non-admin user cannot consent to without tenant-wide admin consent.
ADMIN_ONLY_DELEGATED = frozenset(
    {"User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All",
     "Organization.Read.All", "Place.Read.All", "Calendars.ReadBasic.All", "Calendars.Read.All",
     "Calendars.ReadWrite.All", "OnlineMeetings.ReadWrite.All"}
)  # fmt: skip
ACCESS_TTL = 3599.0
REFRESH_TTL = 90 * 86400.0
KID = "sandbox-entra-1"
_KEY: list[rsa.RSAPrivateKey] = []


def signing_key() -> rsa.RSAPrivateKey:
    """The process-wide RSA key signing id_tokens (generated on first use)."""
    if not _KEY:
        _KEY.append(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    return _KEY[0]


def _b64uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def jwks() -> dict[str, Any]:
    """The JSON Web Key Set with the id_token key."""
    numbers = signing_key().public_key().public_numbers()
    return {"keys": [{"kty": "RSA", "use": "sig", "kid": KID, "alg": "RS256",
                      "n": _b64uint(numbers.n), "e": _b64uint(numbers.e)}]}  # fmt: skip


# ------------------------------------------------------------------------------------------- errors
def aad_error(error: str, code: int, description: str, status: int = 400) -> web.Response:
    """The identity platform's error JSON (``error_codes``, ``trace_id``, ``correlation_id``, ``timestamp``)."""
    return json_response(aad_error_doc(error, code, description), status=status)


def aad_error_doc(error: str, code: int, description: str) -> dict[str, Any]:
    """The body of :func:`aad_error`."""
    trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    return {
        "error": error,
        "error_description": f"AADSTS{code}: {description} Trace ID: {trace} Correlation ID: {correlation} "
        f"Timestamp: {stamp}",
        "error_codes": [code],
        "timestamp": stamp,
        "trace_id": trace,
        "correlation_id": correlation,
        "error_uri": f"https://login.microsoftonline.com/error?code={code}",
    }


def identity_error_body(status: int, retry_after: int | None) -> tuple[dict[str, Any], dict[str, str]]:
    """Error body for injected faults on identity routes."""
    if status >= 500 or status == 429:
        return aad_error_doc("temporarily_unavailable", 90033, "A transient error has occurred. Please try again."), {}
    return aad_error_doc("invalid_request", 90014, "The request is invalid (injected fault)."), {}


def page_error(code: int, description: str) -> web.Response:
    """What the authorize page shows when it cannot redirect (bad client or redirect URI)."""
    return json_response(aad_error_doc("invalid_request", code, description), status=400)


# ------------------------------------------------------------------------------------------- scopes
def short_scope(scope: str) -> str:
    """``https://graph.microsoft.com/Calendars.Read`` -> ``Calendars.Read`` (OIDC scopes unchanged)."""
    lowered = scope.lower()
    for prefix in (GRAPH_RESOURCE, "https://graph.microsoft.com", GRAPH_APP_ID + "/"):
        if lowered.startswith(prefix.lower()):
            return scope[len(prefix) :].lstrip("/")
    return scope


def requested_scopes(raw: str | None, client: OAuthClient) -> list[str]:
    """Short names of a space-separated ``scope``; ``.default`` expands to the client's delegated permissions."""
    out: list[str] = []
    for item in (raw or "").split():
        name = short_scope(item)
        names = list(client.extra.get("delegated_permissions") or []) if name == ".default" else [name]
        for n in names:
            if n not in out:
                out.append(n)
    return out


def scope_string(scopes: set[str] | frozenset[str]) -> str:
    """How the token endpoint prints granted scopes: Graph scopes as URLs, then the OIDC ones."""
    graph = sorted(s for s in scopes if s not in OIDC_SCOPES)
    oidc = [s for s in OIDC_SCOPES if s in scopes]
    return " ".join([GRAPH_RESOURCE + s for s in graph] + oidc)

