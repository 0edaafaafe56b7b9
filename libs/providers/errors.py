"""Errors every provider client raises, whatever the provider's own error body looked like.

    ProviderError                  base: .provider, .status, .provider_code, .request_id
    ├── ProviderUnavailable        5xx, timeouts, connection failures (after retries); .retry_after
    ├── ProviderRateLimited        429, Google 403 rateLimitExceeded (after retries); .retry_after
    ├── ProviderAuthError          401: the access token is invalid, expired or revoked
    ├── ProviderPermissionError    403: a scope, role or app permission is missing; .missing_permission
    ├── ProviderNotFound           404, 410 (.gone is True for 410)
    ├── ProviderBadRequest         400, 409, 412, 422 and other 4xx; .code
    ├── ProviderResponseError      a 2xx answer whose body is not what the API documents
    └── OAuthError                 token endpoint refused: .error, .description
        └── InvalidGrant           invalid_grant: code or refresh token expired or revoked

Messages are short and safe to log: they never carry a token, secret, authorization code or
assertion (values the request carried are redacted from anything the provider echoed back), and no
exception keeps a reference to the request or response.
"""

from __future__ import annotations

from collections.abc import Iterable

REDACTED = "[redacted]"
_MIN_SECRET_LENGTH = 4
_MAX_MESSAGE_LENGTH = 300


class ProviderError(Exception):
    """A provider call failed. ``str()`` is a short message that is safe to log."""

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        status: int | None = None,
        provider_code: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.status = status
        self.provider_code = provider_code
        self.request_id = request_id

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(provider={self.provider!r}, status={self.status!r}, "
            f"provider_code={self.provider_code!r}, message={self.message!r})"
        )


class ProviderUnavailable(ProviderError):
    """The provider failed or did not answer (5xx, timeout, connection error), even after retries."""

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        status: int | None = None,
        provider_code: str | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(
            message, provider=provider, status=status, provider_code=provider_code, request_id=request_id
        )
        self.retry_after = retry_after


class ProviderRateLimited(ProviderError):
    """The provider throttled us, even after retries; ``retry_after`` is its hint in seconds."""

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        status: int | None = None,
        provider_code: str | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(
            message, provider=provider, status=status, provider_code=provider_code, request_id=request_id
        )
        self.retry_after = retry_after


class ProviderAuthError(ProviderError):
    """401: the access token is invalid, expired or revoked; refresh it or re-authorize."""


class ProviderPermissionError(ProviderError):
    """403: the token is valid but lacks a scope, role or permission (named when the provider says)."""

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        status: int | None = None,
        provider_code: str | None = None,
        request_id: str | None = None,
        missing_permission: str | None = None,
    ) -> None:
        super().__init__(
            message, provider=provider, status=status, provider_code=provider_code, request_id=request_id
        )
        self.missing_permission = missing_permission


class ProviderNotFound(ProviderError):
    """404 or 410; ``gone`` is True for 410 (deleted, or a stale sync token)."""

    @property
    def gone(self) -> bool:
        return self.status == 410


class ProviderBadRequest(ProviderError):
    """The provider rejected the request itself (400, 409, 412, 422, other 4xx); do not retry."""

    @property
    def code(self) -> str | None:
        """The provider's reason for the rejection (``duplicate``, ``timeRangeEmpty``, ``300``...)."""
        return self.provider_code


class ProviderResponseError(ProviderError):
    """The provider answered 2xx with a body that does not have the documented shape."""


class OAuthError(ProviderError):
    """The token endpoint refused the grant; ``error`` is the OAuth error code."""

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        error: str,
        description: str | None = None,
        status: int | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(
            message, provider=provider, status=status, provider_code=error, request_id=request_id
        )
        self.error = error
        self.description = description


class InvalidGrant(OAuthError):
    """invalid_grant: the code or refresh token expired or was revoked; the user must authorize again."""


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret value replaced, cut to a loggable length."""
    for secret in sorted({s for s in secrets if s and len(s) >= _MIN_SECRET_LENGTH}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    if len(text) > _MAX_MESSAGE_LENGTH:
        text = text[: _MAX_MESSAGE_LENGTH - 1] + "…"
    return text
