"""SuccessFactors: SAML bearer token and OData v2 User pages with /Date()/ timestamps."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import unquote

import pytest

from providers import OAuthError, ProviderAuthError, ProviderEndpoints, ProviderResponseError
from providers.successfactors import SuccessFactors

API = "https://api4.successfactors.com"


@pytest.fixture
def sf(http, endpoints):
    return SuccessFactors(http, endpoints)


async def test_saml_bearer_token(sf, upstream):
    upstream.reply(200, {"access_token": "sf-at", "token_type": "Bearer", "expires_in": 86399})

    tokens = await sf.saml_bearer_token("api4.successfactors.com", "FABRIKAM", "sf-client", "PHNhbWw+")

    assert (upstream.last.method, upstream.url()) == ("POST", f"{API}/oauth/token")
    assert upstream.form() == {
        "client_id": "sf-client",
        "company_id": "FABRIKAM",
        "grant_type": "urn:ietf:params:oauth:grant-type:saml2-bearer",
        "assertion": "PHNhbWw+",
    }
    assert tokens.access_token == "sf-at"


async def test_idp_assertion_is_signed_by_successfactors_for_the_user(sf, upstream):
    upstream.reply(200, text="PHNhbWwyOkFzc2VydGlvbj4=\n")

    assertion = await sf.idp_assertion("api4.successfactors.com", "sf-client", "sfapi", "-----BEGIN KEY-----")

    assert (upstream.last.method, upstream.url()) == ("POST", f"{API}/oauth/idp")
    assert upstream.form() == {
        "client_id": "sf-client",
        "user_id": "sfapi",
        "token_url": f"{API}/oauth/token",
        "private_key": "-----BEGIN KEY-----",
    }
    assert assertion == "PHNhbWwyOkFzc2VydGlvbj4="


async def test_an_idp_refusal_never_shows_the_private_key(sf, upstream):
    upstream.reply(401, {"errorMessage": "invalid private_key -----BEGIN KEY-----"})

    with pytest.raises(OAuthError) as caught:
        await sf.idp_assertion("api4.successfactors.com", "sf-client", "sfapi", "-----BEGIN KEY-----")

    assert "-----BEGIN KEY-----" not in str(caught.value) + str(caught.value.description)


async def test_an_empty_idp_answer_is_a_response_error(sf, upstream):
    upstream.reply(200, text="  ")

    with pytest.raises(ProviderResponseError):
        await sf.idp_assertion("api4.successfactors.com", "sf-client", "sfapi", "k" * 16)


def sf_user(uid, status, modified="/Date(1700000000000+0000)/"):
    return {
        "__metadata": {"uri": f"{API}/odata/v2/User('{uid}')", "type": "SFOData.User"},
        "userId": uid,
        "username": uid,
        "email": f"{uid}@fabrikam.example",
        "status": status,
        "firstName": "F",
        "lastName": "L",
        "lastModifiedDateTime": modified,
    }


async def test_iter_users_asks_for_every_status_and_follows_next(sf, upstream):
    next_link = f"{API}/odata/v2/User?$select=userId&$skiptoken=eyJzdGFydFJvdy"
    upstream.reply(200, {"d": {"results": [sf_user("cgrant", "t")], "__next": next_link}})
    upstream.reply(200, {"d": {"results": [sf_user("dlee", "f", modified=None)]}})

    pages = [p async for p in sf.iter_users("tok", "https://api4.successfactors.com/")]

    first = upstream.requests[0]
    assert first.headers["authorization"] == "Bearer tok"
    assert unquote(str(first.url)) == (
        f"{API}/odata/v2/User?$select=userId,username,email,status,firstName,lastName,displayName,lastModifiedDateTime"
        "&$filter=status in 't','f','T','F','e','d'&$format=json"
    )
    assert str(upstream.requests[1].url) == next_link
    carla, dana = pages[0].items[0], pages[1].items[0]
    assert (carla.user_id, carla.email, carla.active) == ("cgrant", "cgrant@fabrikam.example", True)
    assert carla.last_modified == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert (dana.active, dana.status, dana.last_modified) == (False, "f", None)
    assert [p.next_cursor for p in pages] == [next_link, None]


async def test_iter_users_since_a_time_active_only(sf, upstream):
    upstream.reply(200, {"d": {"results": []}})

    [
        _
        async for _ in sf.iter_users(
            "tok", API, modified_since=datetime(2026, 3, 1, tzinfo=UTC), include_inactive=False
        )
    ]

    assert upstream.query()["$filter"] == "lastModifiedDateTime gt datetimeoffset'2026-03-01T00:00:00Z'"


async def test_the_sandbox_override_replaces_the_connection_api_server(http, upstream):
    sf = SuccessFactors(http, ProviderEndpoints.sandbox("http://127.0.0.1:8060"))
    upstream.reply(200, {"d": {"results": []}})

    [_ async for _ in sf.iter_users("tok", "api4.successfactors.com")]

    assert upstream.url() == "http://127.0.0.1:8060/successfactors/odata/v2/User"


async def test_a_bad_token_is_an_auth_error(sf, upstream):
    upstream.reply(
        401, {"error": {"code": "COE_INVALID_TOKEN", "message": {"lang": "en-US", "value": "bad token"}}}
    )

    with pytest.raises(ProviderAuthError):
        [_ async for _ in sf.iter_users("tok", API)]
