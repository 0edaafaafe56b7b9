"""ProviderHttp: clients per upstream, retries, Retry-After, and secrets kept out of errors and logs."""

from __future__ import annotations

import logging
from datetime import timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from providers import (
    InvalidGrant,
    ProviderAuthError,
    ProviderBadRequest,
    ProviderHttp,
    ProviderNotFound,
    ProviderPermissionError,
    ProviderRateLimited,
    ProviderResponseError,
    ProviderUnavailable,
)
from providers.error_bodies import google_error, graph_error

URL = "https://graph.microsoft.com/v1.0/users"


async def get(http: ProviderHttp, **kwargs: Any) -> httpx.Response:
    options: dict[str, Any] = {"errors": graph_error, "token": "tok-abc-123", "idempotent": True}
    options.update(kwargs)
    return await http.request("microsoft", "GET", URL, **options)


async def test_a_success_is_returned_with_bearer_token_and_user_agent(http, upstream):
    upstream.reply(200, {"value": []})

    response = await get(http)

    assert response.status_code == 200
    assert upstream.last.headers["authorization"] == "Bearer tok-abc-123"
    assert upstream.last.headers["user-agent"].startswith("rendezvous-providers/")
    assert upstream.sleeps == []


async def test_429_waits_the_retry_after_seconds_then_succeeds(http, upstream):
    upstream.reply(
        429, {"error": {"code": "TooManyRequests", "message": "slow down"}}, headers={"Retry-After": "2"}
    )
    upstream.reply(200, {"value": []})

    await get(http)

    assert len(upstream.requests) == 2
    assert upstream.sleeps == [2.0]


async def test_retry_after_as_an_http_date_is_counted_from_now(http, upstream, now):
    when = format_datetime(now + timedelta(seconds=3), usegmt=True)
    upstream.reply(503, text="busy", headers={"Retry-After": when})
    upstream.reply(200, {})

    await get(http)

    assert upstream.sleeps == [3.0]


async def test_a_retry_after_longer_than_the_cap_is_raised_at_once(http, upstream):
    upstream.reply(429, {"error": {"code": "TooManyRequests"}}, headers={"Retry-After": "120"})

    with pytest.raises(ProviderRateLimited) as caught:
        await get(http)

    assert caught.value.retry_after == 120.0
    assert len(upstream.requests) == 1
    assert upstream.sleeps == []


async def test_429_that_persists_ends_as_rate_limited_after_three_retries(http, upstream):
    for _ in range(4):
        upstream.reply(429, {"error": {"code": "TooManyRequests"}}, headers={"Retry-After": "1"})

    with pytest.raises(ProviderRateLimited) as caught:
        await get(http)

    assert len(upstream.requests) == 4
    assert upstream.sleeps == [1.0, 1.0, 1.0]
    assert caught.value.status == 429 and caught.value.retry_after == 1.0


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_5xx_is_retried_with_jittered_exponential_backoff_then_unavailable(http, upstream, status):
    for _ in range(4):
        upstream.reply(status, {"error": {"code": "ServiceUnavailable", "message": "down"}})

    with pytest.raises(ProviderUnavailable) as caught:
        await get(http)

    assert len(upstream.requests) == 4
    # jitter fixed at 0.5: half the ceiling plus half of the other half; ceilings 0.5, 1, 2
    assert upstream.sleeps == [0.375, 0.75, 1.5]
    assert caught.value.status == status and caught.value.provider == "microsoft"


async def test_a_non_idempotent_create_is_not_retried_on_5xx(http, upstream):
    upstream.reply(503, {"error": {"code": "ServiceUnavailable"}})

    with pytest.raises(ProviderUnavailable):
        await http.request("microsoft", "POST", URL, errors=graph_error, json_body={"a": 1})

    assert len(upstream.requests) == 1


async def test_a_non_idempotent_create_with_an_idempotency_key_is_retried(http, upstream):
    upstream.reply(503, {"error": {"code": "ServiceUnavailable"}})
    upstream.reply(201, {"id": "e1"})

    response = await http.request(
        "microsoft", "POST", URL, errors=graph_error, json_body={"a": 1}, idempotency_key="tx-1"
    )

    assert response.status_code == 201
    assert len(upstream.requests) == 2
    assert upstream.json(0) == upstream.json(1) == {"a": 1}


async def test_a_non_idempotent_create_is_retried_on_429_because_nothing_was_processed(http, upstream):
    upstream.reply(429, {"error": {"code": "TooManyRequests"}}, headers={"Retry-After": "1"})
    upstream.reply(201, {"id": "e1"})

    await http.request("microsoft", "POST", URL, errors=graph_error, json_body={})

    assert len(upstream.requests) == 2


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, ProviderBadRequest),
        (401, ProviderAuthError),
        (403, ProviderPermissionError),
        (404, ProviderNotFound),
        (409, ProviderBadRequest),
    ],
)
async def test_client_errors_are_not_retried(http, upstream, status, error):
    upstream.reply(status, {"error": {"code": "Whatever", "message": "no"}})

    with pytest.raises(error):
        await get(http)

    assert len(upstream.requests) == 1
    assert upstream.sleeps == []


async def test_google_403_rate_limit_exceeded_is_retried_like_429(http, upstream):
    body = {
        "error": {
            "errors": [
                {"domain": "usageLimits", "reason": "rateLimitExceeded", "message": "Rate Limit Exceeded"}
            ],
            "code": 403,
            "message": "Rate Limit Exceeded",
        }
    }
    for _ in range(4):
        upstream.reply(403, body)

    with pytest.raises(ProviderRateLimited) as caught:
        await http.request(
            "google", "GET", "https://www.googleapis.com/x", errors=google_error, idempotent=True
        )

    assert len(upstream.requests) == 4
    assert caught.value.status == 403 and caught.value.provider_code == "rateLimitExceeded"


async def test_a_read_timeout_is_retried_for_an_idempotent_call(http, upstream):
    upstream.fail(httpx.ReadTimeout("timed out"))
    upstream.reply(200, {})

    await get(http)

    assert len(upstream.requests) == 2


async def test_read_timeouts_end_as_unavailable(http, upstream):
    for _ in range(4):
        upstream.fail(httpx.ReadTimeout("timed out"))

    with pytest.raises(ProviderUnavailable) as caught:
        await get(http)

    assert len(upstream.requests) == 4
    assert "ReadTimeout" in str(caught.value)
    assert caught.value.status is None


async def test_a_read_timeout_on_a_non_idempotent_create_is_not_retried(http, upstream):
    upstream.fail(httpx.ReadTimeout("timed out"))

    with pytest.raises(ProviderUnavailable):
        await http.request("microsoft", "POST", URL, errors=graph_error, json_body={})

    assert len(upstream.requests) == 1


async def test_a_refused_connection_is_retried_even_for_a_create(http, upstream):
    upstream.fail(httpx.ConnectError("connection refused"))
    upstream.reply(201, {"id": "x"})

    await http.request("microsoft", "POST", URL, errors=graph_error, json_body={})

    assert len(upstream.requests) == 2


async def test_a_2xx_that_is_not_a_json_object_is_a_response_error(http, upstream):
    upstream.reply(200, text="<html>")

    with pytest.raises(ProviderResponseError):
        await http.request_json("microsoft", "GET", URL, errors=graph_error)


async def test_an_empty_2xx_body_reads_as_an_empty_object(http, upstream):
    upstream.reply(204)

    assert await http.request_json("microsoft", "DELETE", URL, errors=graph_error) == {}


async def test_one_client_per_upstream_reused_across_calls(http, upstream):
    a = http.client_for("https://graph.microsoft.com/v1.0/users")
    b = http.client_for("https://graph.microsoft.com/v1.0/organization")
    c = http.client_for("https://login.microsoftonline.com/t/oauth2/v2.0/token")
    d = http.client_for("http://127.0.0.1:8060/graph.microsoft.com/v1.0/users")
    e = http.client_for("http://127.0.0.1:8060/zoom.us/oauth/token")

    assert a is b
    assert len({id(a), id(c), id(d)}) == 3
    assert d is e


async def test_aclose_closes_every_client(http):
    client = http.client_for(URL)

    await http.aclose()

    assert client.is_closed
    assert http.client_for(URL) is not client


async def test_timeouts_are_set_on_the_client():
    http = ProviderHttp()
    try:
        client = http.client_for(URL)
        assert client.timeout.connect == 5.0
        assert client.timeout.read == 30.0
    finally:
        await http.aclose()


async def test_secrets_sent_never_appear_in_errors(http, upstream):
    echo = "bad token tok-abc-123, secret s3cr3t-value, refresh rt-999-zzz"
    upstream.reply(400, {"error": "invalid_grant", "error_description": echo})

    with pytest.raises(InvalidGrant) as caught:
        await http.request(
            "microsoft",
            "POST",
            "https://login.microsoftonline.com/t/oauth2/v2.0/token",
            errors=graph_error,
            form={
                "client_secret": "s3cr3t-value",
                "refresh_token": "rt-999-zzz",
                "grant_type": "refresh_token",
            },
            token="tok-abc-123",
            token_endpoint=True,
        )

    error = caught.value
    for text in (str(error), repr(error), str(error.args), str(getattr(error, "description", ""))):
        for secret in ("tok-abc-123", "s3cr3t-value", "rt-999-zzz"):
            assert secret not in text
    assert "[redacted]" in str(error)


async def test_retry_logs_name_the_call_without_query_or_token(http, upstream, caplog):
    upstream.reply(503, {"error": {"code": "x"}})
    upstream.reply(200, {})
    caplog.set_level(logging.WARNING, logger="providers.http")

    await http.request(
        "google",
        "POST",
        "https://oauth2.googleapis.com/revoke",
        errors=google_error,
        params={"token": "tok-in-query-1"},
        token="tok-abc-123",
        idempotent=True,
    )

    [record] = caplog.records
    assert record.where == "oauth2.googleapis.com/revoke"
    everything = record.getMessage() + repr(record.__dict__)
    assert "tok-in-query-1" not in everything and "tok-abc-123" not in everything
