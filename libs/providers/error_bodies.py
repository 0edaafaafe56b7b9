"""Reading each provider's error body into one shape, so ``http`` can classify failures uniformly.

A parser never raises: a body that is not JSON, or not the documented shape, yields an empty detail
and the HTTP status alone decides the exception.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

#: Google reasons that mean "slow down" even though the status is 403.
GOOGLE_RATE_LIMIT_REASONS = frozenset(
    {"rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded", "dailyLimitExceeded"}
)
_GOOGLE_SCOPE_HINT = re.compile(r'scope="([^"]+)"')
_ZOOM_SCOPE_HINT = re.compile(r"scopes?:\s*\[([^\]]*)\]")
_WEBEX_GRANT_HINT = re.compile(r"(refresh token|authorization code|grant).*(expired|revoked|invalid)", re.I)


@dataclass(frozen=True)
class ErrorDetail:
    """What a provider said about a failed call, in provider-neutral terms."""

    code: str | None = None
    message: str | None = None
    request_id: str | None = None
    rate_limited: bool = False
    missing_permission: str | None = None
    oauth_error: str | None = None


ErrorParser = Callable[[httpx.Response], ErrorDetail]


def _body(response: httpx.Response) -> Any:
    try:
        return json.loads(response.content or b"null")
    except ValueError:
        return None


def _str(value: Any) -> str | None:
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def oauth_error(response: httpx.Response) -> ErrorDetail:
    """RFC 6749 token-endpoint errors: ``{"error": "invalid_grant", "error_description": ...}``."""
    body = _body(response)
    if not isinstance(body, dict) or not isinstance(body.get("error"), str):
        return ErrorDetail()
    return ErrorDetail(
        code=body["error"],
        oauth_error=body["error"],
        message=_str(body.get("error_description")) or _str(body.get("reason")),
        request_id=_str(body.get("trace_id"))
        or _str(body.get("correlation_id"))
        or _str(body.get("trackingId")),
    )


def google_error(response: httpx.Response) -> ErrorDetail:
    """Google's envelopes: ``{"error": {"errors": [{"reason"}], "code", "message", "status"}}``."""
    body = _body(response)
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, str):
        return oauth_error(response)
    if not isinstance(error, dict):
        return ErrorDetail()
    reasons = [e.get("reason") for e in error.get("errors") or () if isinstance(e, dict)]
    reasons += [
        d.get("reason")
        for d in error.get("details") or ()
        if isinstance(d, dict) and str(d.get("@type", "")).endswith("google.rpc.ErrorInfo")
    ]
    reason = next((r for r in reasons if isinstance(r, str) and r), None)
    hint = _GOOGLE_SCOPE_HINT.search(response.headers.get("www-authenticate", ""))
    return ErrorDetail(
        code=reason or _str(error.get("status")),
        message=_str(error.get("message")),
        rate_limited=reason in GOOGLE_RATE_LIMIT_REASONS,
        missing_permission=hint.group(1) if hint else None,
    )


def graph_error(response: httpx.Response) -> ErrorDetail:
    """Microsoft Graph: ``{"error": {"code", "message", "innerError": {"request-id"}}}``."""
    body = _body(response)
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, str):
        return oauth_error(response)
    if not isinstance(error, dict):
        return ErrorDetail(request_id=response.headers.get("request-id"))
    inner = error.get("innerError") or error.get("innererror") or {}
    return ErrorDetail(
        code=_str(error.get("code")),
        message=_str(error.get("message")),
        request_id=(_str(inner.get("request-id")) if isinstance(inner, dict) else None)
        or response.headers.get("request-id"),
    )


def zoom_error(response: httpx.Response) -> ErrorDetail:
    """Zoom: ``{"code": 124, "message": ...}``; token endpoint ``{"reason", "error"}``.

    A missing scope comes back as ``Invalid access token, does not contain scopes:[user:read:admin]``.
    """
    body = _body(response)
    if not isinstance(body, dict):
        return ErrorDetail()
    if isinstance(body.get("error"), str):
        return oauth_error(response)
    message = _str(body.get("message"))
    hint = _ZOOM_SCOPE_HINT.search(message or "")
    return ErrorDetail(
        code=_str(body.get("code")),
        message=message,
        missing_permission=hint.group(1).strip() or None if hint else None,
    )


def webex_error(response: httpx.Response) -> ErrorDetail:
    """Webex: ``{"message", "errors": [{"description"}], "trackingId"}`` (token endpoint too).

    The token endpoint answers an expired or revoked grant in this shape, so a message that says so
    is reported as ``invalid_grant``.
    """
    body = _body(response)
    if not isinstance(body, dict):
        return ErrorDetail(request_id=response.headers.get("trackingid"))
    if isinstance(body.get("error"), str):
        return oauth_error(response)
    descriptions = [e.get("description") for e in body.get("errors") or () if isinstance(e, dict)]
    message = _str(body.get("message")) or next((d for d in descriptions if isinstance(d, str)), None)
    grant_failed = response.request.url.path.endswith("/access_token") and bool(
        _WEBEX_GRANT_HINT.search(" ".join([message or "", *[d for d in descriptions if isinstance(d, str)]]))
    )
    return ErrorDetail(
        message=message,
        request_id=_str(body.get("trackingId")) or response.headers.get("trackingid"),
        oauth_error="invalid_grant" if grant_failed else None,
        code="invalid_grant" if grant_failed else None,
    )


def successfactors_error(response: httpx.Response) -> ErrorDetail:
    """SuccessFactors OData: ``{"error": {"code", "message": {"lang", "value"}}}``; its token endpoint:
    ``{"errorHttpCode": "401", "errorMessage": ...}``."""
    body = _body(response)
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, str):
        return oauth_error(response)
    if not isinstance(error, dict):
        message = _str(body.get("errorMessage")) if isinstance(body, dict) else None
        return ErrorDetail(message=message)
    message = error.get("message")
    return ErrorDetail(
        code=_str(error.get("code")),
        message=_str(message.get("value")) if isinstance(message, dict) else _str(message),
    )
