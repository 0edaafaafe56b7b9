"""Whatever a provider echoes back, tokens and secrets never reach an exception's text or repr."""

from __future__ import annotations

import pytest

from providers import OAuthError, ProviderAuthError, ProviderError
from providers.google import GoogleCalendar, GoogleOAuth
from providers.microsoft import MicrosoftIdentityPlatform
from providers.successfactors import SuccessFactors
from providers.webex import Webex
from providers.zoom import Zoom

REFRESH = "refresh-token-value-1"
ACCESS = "access-token-value-2"
ASSERTION = "PHNhbWwgYXNzZXJ0aW9u"


def echo(*secrets: str) -> str:
    return "you sent: " + " ".join(secrets)


def texts(error: BaseException) -> str:
    parts = [str(error), repr(error), repr(error.args)]
    parts += [str(getattr(error, name, "")) for name in ("message", "description", "error", "provider_code")]
    return "\n".join(parts)


def assert_clean(error: BaseException, *secrets: str) -> None:
    blob = texts(error)
    for secret in secrets:
        assert secret not in blob
    assert "[redacted]" in blob


@pytest.mark.parametrize("provider", ["google", "microsoft", "zoom", "webex"])
async def test_a_refresh_error_that_echoes_secrets_is_redacted(provider, http, endpoints, apps, upstream):
    secret = getattr(apps, provider).client_secret
    upstream.reply(400, {"error": "invalid_grant", "error_description": echo(REFRESH, secret)})
    refresh = {
        "google": lambda: GoogleOAuth(http, endpoints, apps.google).refresh(REFRESH),
        "microsoft": lambda: MicrosoftIdentityPlatform(http, endpoints, apps.microsoft).refresh(
            tenant="t", refresh_token=REFRESH
        ),
        "zoom": lambda: Zoom(http, endpoints, apps.zoom).refresh(REFRESH),
        "webex": lambda: Webex(http, endpoints, apps.webex).refresh(REFRESH),
    }[provider]

    with pytest.raises(OAuthError) as caught:
        await refresh()

    assert_clean(caught.value, REFRESH, secret)


async def test_an_api_error_that_echoes_the_bearer_token_is_redacted(http, endpoints, upstream):
    upstream.reply(401, {"error": {"code": 401, "message": echo(ACCESS)}})

    with pytest.raises(ProviderAuthError) as caught:
        await GoogleCalendar(http, endpoints).get_event(ACCESS, "primary", "e1")

    assert_clean(caught.value, ACCESS)


async def test_a_saml_assertion_is_redacted(http, endpoints, upstream):
    upstream.reply(401, {"errorHttpCode": "401", "errorMessage": echo(ASSERTION)})

    with pytest.raises(ProviderError) as caught:
        await SuccessFactors(http, endpoints).saml_bearer_token("api.example", "C", "client", ASSERTION)

    assert_clean(caught.value, ASSERTION)
