"""SuccessFactors client against the sandbox: SAML bearer token and User pages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from providers import OAuthError, ProviderAuthError, ProviderPermissionError, TokenSet

API_SERVER = "api4.successfactors.com"  # replaced by the sandbox endpoint


@pytest.fixture(autouse=True)
def _successfactors(require):
    require("successfactors")


@pytest.fixture
def client(sbx) -> dict[str, Any]:
    fixture = json.loads((Path(sbx.sandbox.fixture_dir) / "successfactors.json").read_text())
    return dict(fixture["clients"][0])


def assertion_for(sbx, client: dict[str, Any], user_id: str) -> str:
    """A SAML assertion as the customer's IdP would sign it (the sandbox's own minting helper)."""
    from sandbox.providers.successfactors import make_assertion

    return make_assertion(
        client["client_id"], user_id, sbx.url("successfactors/oauth/token"), sbx.sandbox.clock()
    )


async def token_for(providers, sbx, client: dict[str, Any], user_id: str) -> TokenSet:
    return await providers.successfactors.saml_bearer_token(
        API_SERVER, client["company_id"], client["client_id"], assertion_for(sbx, client, user_id)
    )


async def test_users_of_every_status_page_by_page_with_aware_timestamps(providers, sbx, client):
    token = (await token_for(providers, sbx, client, client["api_user"])).access_token
    sf = providers.successfactors

    everyone = [u for p in [p async for p in sf.iter_users(token, API_SERVER)] for u in p.items]
    active = [
        u
        for p in [p async for p in sf.iter_users(token, API_SERVER, include_inactive=False)]
        for u in p.items
    ]

    assert any(not u.active for u in everyone) and any(u.active for u in everyone)
    assert all(u.active for u in active) and len(active) < len(everyone)
    assert all(u.last_modified is not None and u.last_modified.tzinfo is not None for u in everyone)


async def test_modified_since_narrows_the_read(providers, sbx, client):
    token = (await token_for(providers, sbx, client, client["api_user"])).access_token
    everyone = [u async for p in providers.successfactors.iter_users(token, API_SERVER) for u in p.items]
    newest = max(u.last_modified for u in everyone if u.last_modified)

    later = [
        u
        async for p in providers.successfactors.iter_users(token, API_SERVER, modified_since=newest)
        for u in p.items
    ]

    assert later == []


async def test_a_user_without_the_user_permission_is_refused(providers, sbx, client):
    token = (await token_for(providers, sbx, client, "nopriv")).access_token

    with pytest.raises(ProviderPermissionError):
        [p async for p in providers.successfactors.iter_users(token, API_SERVER)]


async def test_an_assertion_for_another_client_is_refused(providers, sbx, client):
    foreign = assertion_for(sbx, {**client, "client_id": "someone-else"}, client["api_user"])

    with pytest.raises(OAuthError) as caught:
        await providers.successfactors.saml_bearer_token(
            API_SERVER, client["company_id"], client["client_id"], foreign
        )

    assert foreign not in str(caught.value)


async def test_an_assertion_signed_by_the_idp_helper_gets_a_token(providers, client):
    sf = providers.successfactors

    assertion = await sf.idp_assertion(API_SERVER, client["client_id"], client["api_user"], client["private_key"])
    tokens = await sf.saml_bearer_token(API_SERVER, client["company_id"], client["client_id"], assertion)

    assert [u async for p in sf.iter_users(tokens.access_token, API_SERVER) for u in p.items]
    with pytest.raises(OAuthError) as caught:
        await sf.idp_assertion(API_SERVER, client["client_id"], client["api_user"], "not-the-private-key")
    assert "not-the-private-key" not in str(caught.value)


async def test_a_bad_token_is_an_auth_error(providers):
    with pytest.raises(ProviderAuthError):
        [p async for p in providers.successfactors.iter_users("not-a-token", API_SERVER)]
