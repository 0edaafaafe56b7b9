"""Each provider's error bodies become the same small exception tree."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from providers import (
    InvalidGrant,
    OAuthError,
    ProviderAuthError,
    ProviderBadRequest,
    ProviderError,
    ProviderNotFound,
    ProviderPermissionError,
    ProviderRateLimited,
    ProviderUnavailable,
)
from providers.error_bodies import (
    ErrorParser,
    google_error,
    graph_error,
    successfactors_error,
    webex_error,
    zoom_error,
)
from providers.http import classify

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def translate(
    parser: ErrorParser,
    status: int,
    body: object = None,
    *,
    headers: dict[str, str] | None = None,
    url: str = "https://api.example/x",
    token_endpoint: bool = False,
) -> ProviderError:
    request = httpx.Request("POST", url)
    if body is None:
        response = httpx.Response(status, text="", headers=headers, request=request)
    elif isinstance(body, str):
        response = httpx.Response(status, text=body, headers=headers, request=request)
    else:
        response = httpx.Response(status, json=body, headers=headers, request=request)
    return classify("p", response, parser(response), token_endpoint, (), NOW)


def google(status: int, reason: str, domain: str = "global", message: str = "m") -> dict:
    return {
        "error": {
            "errors": [{"domain": domain, "reason": reason, "message": message}],
            "code": status,
            "message": message,
        }
    }


@pytest.mark.parametrize(
    ("status", "reason", "kind"),
    [
        (400, "timeRangeEmpty", ProviderBadRequest),
        (401, "authError", ProviderAuthError),
        (403, "forbiddenForNonOrganizer", ProviderPermissionError),
        (403, "rateLimitExceeded", ProviderRateLimited),
        (403, "userRateLimitExceeded", ProviderRateLimited),
        (404, "notFound", ProviderNotFound),
        (409, "duplicate", ProviderBadRequest),
        (412, "conditionNotMet", ProviderBadRequest),
        (429, "rateLimitExceeded", ProviderRateLimited),
        (500, "backendError", ProviderUnavailable),
        (503, "backendError", ProviderUnavailable),
    ],
)
def test_google_envelope(status, reason, kind):
    error = translate(google_error, status, google(status, reason))

    assert type(error) is kind
    assert (error.provider, error.status, error.provider_code) == ("p", status, reason)


def test_google_410_is_not_found_and_gone():
    error = translate(google_error, 410, google(410, "deleted"))

    assert isinstance(error, ProviderNotFound) and error.gone


def test_google_404_is_not_gone():
    error = translate(google_error, 404, google(404, "notFound"))

    assert isinstance(error, ProviderNotFound) and not error.gone


def test_google_missing_scope_names_the_acceptable_scopes():
    body = {
        "error": {
            "code": 403,
            "message": "Request had insufficient authentication scopes.",
            "status": "PERMISSION_DENIED",
            "details": [
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
                }
            ],
        }
    }
    headers = {
        "WWW-Authenticate": 'Bearer realm="https://accounts.google.com/", error="insufficient_scope", '
        'scope="https://www.googleapis.com/auth/calendar"'
    }

    error = translate(google_error, 403, body, headers=headers)

    assert isinstance(error, ProviderPermissionError)
    assert error.provider_code == "ACCESS_TOKEN_SCOPE_INSUFFICIENT"
    assert error.missing_permission == "https://www.googleapis.com/auth/calendar"


def test_google_rpc_status_is_the_code_when_there_is_no_reason():
    body = {"error": {"code": 403, "message": "denied", "status": "PERMISSION_DENIED"}}

    error = translate(google_error, 403, body)

    assert isinstance(error, ProviderPermissionError) and error.provider_code == "PERMISSION_DENIED"


@pytest.mark.parametrize(
    ("error_code", "kind"),
    [("invalid_grant", InvalidGrant), ("invalid_client", OAuthError), ("redirect_uri_mismatch", OAuthError)],
)
def test_google_token_endpoint_errors(error_code, kind):
    body = {"error": error_code, "error_description": "Token has been expired or revoked."}

    error = translate(google_error, 400, body, token_endpoint=True)

    assert type(error) is kind
    assert isinstance(error, OAuthError)
    assert error.error == error_code and error.description == "Token has been expired or revoked."


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (400, "BadRequest", ProviderBadRequest),
        (401, "InvalidAuthenticationToken", ProviderAuthError),
        (403, "ErrorAccessDenied", ProviderPermissionError),
        (403, "Authorization_RequestDenied", ProviderPermissionError),
        (404, "ErrorItemNotFound", ProviderNotFound),
        (404, "Request_ResourceNotFound", ProviderNotFound),
        (429, "TooManyRequests", ProviderRateLimited),
        (503, "ServiceNotAvailable", ProviderUnavailable),
        (504, "GatewayTimeout", ProviderUnavailable),
    ],
)
def test_graph_envelope(status, code, kind):
    body = {"error": {"code": code, "message": "m", "innerError": {"date": "x", "request-id": "req-1"}}}

    error = translate(graph_error, status, body, headers={"Retry-After": "7"})

    assert type(error) is kind
    assert error.provider_code == code and error.request_id == "req-1"
    if kind in (ProviderRateLimited, ProviderUnavailable):
        assert error.retry_after == 7.0  # type: ignore[attr-defined]


def test_microsoft_token_endpoint_invalid_grant_keeps_trace_id_and_description():
    body = {
        "error": "invalid_grant",
        "error_description": "AADSTS70008: The provided authorization code or refresh token has expired.",
        "error_codes": [70008],
        "timestamp": "2026-03-01 12:00:00Z",
        "trace_id": "trace-1",
        "correlation_id": "corr-1",
    }

    error = translate(graph_error, 400, body, token_endpoint=True)

    assert isinstance(error, InvalidGrant)
    assert error.request_id == "trace-1"
    assert error.description is not None and error.description.startswith("AADSTS70008")


def test_a_token_endpoint_401_without_an_oauth_body_is_still_an_oauth_error():
    error = translate(graph_error, 401, "nope", token_endpoint=True)

    assert isinstance(error, OAuthError) and error.error == "invalid_request"


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (400, 300, ProviderBadRequest),
        (401, 124, ProviderAuthError),
        (404, 1001, ProviderNotFound),
        (404, 3001, ProviderNotFound),
        (429, 429, ProviderRateLimited),
    ],
)
def test_zoom_body(status, code, kind):
    error = translate(zoom_error, status, {"code": code, "message": "m"})

    assert type(error) is kind and error.provider_code == str(code)


def test_zoom_missing_scope_is_a_permission_error_naming_it():
    body = {"code": 4711, "message": "Invalid access token, does not contain scopes:[user:read:admin]."}

    error = translate(zoom_error, 400, body)

    assert isinstance(error, ProviderPermissionError)
    assert error.missing_permission == "user:read:admin"


def test_zoom_token_endpoint_error():
    error = translate(
        zoom_error, 400, {"reason": "Invalid Token!", "error": "invalid_grant"}, token_endpoint=True
    )

    assert isinstance(error, InvalidGrant) and error.description == "Invalid Token!"


def test_webex_body_keeps_tracking_id():
    body = {
        "message": "The input parameters contain invalid items.",
        "errors": [{"description": "end must be after start"}],
        "trackingId": "ROUTER_1",
    }

    error = translate(webex_error, 400, body, url="https://webexapis.com/v1/meetings")

    assert isinstance(error, ProviderBadRequest)
    assert error.request_id == "ROUTER_1"
    assert "invalid items" in str(error)


def test_webex_expired_refresh_token_is_invalid_grant():
    body = {
        "message": "The refresh token provided is expired, revoked, malformed, or invalid.",
        "errors": [{"description": "The refresh token provided is expired, revoked, malformed, or invalid."}],
        "trackingId": "ROUTER_2",
    }

    error = translate(
        webex_error, 400, body, url="https://webexapis.com/v1/access_token", token_endpoint=True
    )

    assert isinstance(error, InvalidGrant)


def test_webex_429_carries_retry_after():
    error = translate(webex_error, 429, {"message": "Too Many Requests"}, headers={"Retry-After": "12"})

    assert isinstance(error, ProviderRateLimited) and error.retry_after == 12.0


@pytest.mark.parametrize(
    ("status", "kind"), [(401, ProviderAuthError), (403, ProviderPermissionError), (400, ProviderBadRequest)]
)
def test_successfactors_body(status, kind):
    body = {"error": {"code": "COE_PERMISSION_DENIED", "message": {"lang": "en-US", "value": "no access"}}}

    error = translate(successfactors_error, status, body)

    assert type(error) is kind
    assert error.provider_code == "COE_PERMISSION_DENIED" and str(error).endswith("no access")


def test_a_body_that_is_not_json_leaves_the_status_to_decide():
    error = translate(google_error, 502, "<html>Bad Gateway</html>")

    assert isinstance(error, ProviderUnavailable) and error.provider_code is None


def test_messages_are_short_and_say_provider_status_and_code():
    error = translate(graph_error, 404, {"error": {"code": "ErrorItemNotFound", "message": "x" * 1000}})

    assert str(error).startswith("p: HTTP 404 ErrorItemNotFound: xxx")
    assert len(str(error)) <= 300


def test_successfactors_token_endpoint_error():
    body = {"errorHttpCode": "401", "errorMessage": "Unable to verify the SAML assertion."}

    error = translate(successfactors_error, 401, body, token_endpoint=True)

    assert isinstance(error, OAuthError) and error.description == "Unable to verify the SAML assertion."
