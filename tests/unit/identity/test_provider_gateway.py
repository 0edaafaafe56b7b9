"""The provider adapter's readings of token responses (HTTP faked with httpx.MockTransport)."""

from __future__ import annotations

import json

import httpx
import jwt
import pytest

from kit.errors import Unavailable
from providers import ProviderEndpoints, ProviderHttp, Providers, RetryPolicy
from services.identity.adapters.providers import ProviderGateway
from services.identity.bootstrap import provider_apps
from services.identity.domain.scopes import Provider
from services.identity.ports import ProviderRefused
from services.identity.settings import IdentitySettings

TENANT, OID = "11111111-1111-1111-1111-111111111111", "aaaaaaaa-0000-4000-8000-000000000002"


def gateway(answer: httpx.Response) -> tuple[ProviderGateway, ProviderHttp]:
    http = ProviderHttp(transport=httpx.MockTransport(lambda request: answer), retry=RetryPolicy(max_retries=0))
    providers = Providers(http, ProviderEndpoints(), provider_apps(IdentitySettings()))
    return ProviderGateway(providers, redirect_uri="http://127.0.0.1:8054/oauth/callback",
                           microsoft_tenant="organizations"), http  # fmt: skip


def token_body(**fields: object) -> httpx.Response:
    return httpx.Response(200, json={"token_type": "Bearer", "expires_in": 3599, **fields})


async def test_a_microsoft_user_without_oid_in_the_id_token_is_named_by_the_access_token():
    id_token = jwt.encode({"tid": TENANT, "sub": "pairwise-sub", "email": "Adele@Contoso.example"}, "k" * 32)
    access = jwt.encode({"tid": TENANT, "oid": OID, "roles": []}, "k" * 32)
    gw, http = gateway(token_body(access_token=access, id_token=id_token, refresh_token="r",
                                  scope="openid email https://graph.microsoft.com/Calendars.ReadBasic.All"))  # fmt: skip
    async with http:
        grant = await gw.exchange_code(Provider.MICROSOFT, code="c", code_verifier="v" * 43)
    assert (grant.identity.tenant_id, grant.identity.subject_id, grant.identity.email) == (
        TENANT, OID, "adele@contoso.example")
    assert "https://graph.microsoft.com/Calendars.ReadBasic.All" in (grant.scopes or ())


async def test_client_credentials_roles_are_read_from_a_jwt_access_token():
    access = jwt.encode({"tid": TENANT, "roles": ["User.Read.All", "Place.Read.All"]}, "k" * 32)
    gw, http = gateway(token_body(access_token=access))
    async with http:
        grant = await gw.app_token("tenant-from-the-redirect")
    assert grant.scopes == frozenset({"User.Read.All", "Place.Read.All"})
    assert grant.identity.tenant_id == TENANT  # the token's tenant, not the redirect's


@pytest.mark.parametrize(
    "answer, expected",
    [
        (httpx.Response(400, json={"error": "invalid_grant", "error_description": "expired"}), ProviderRefused),
        (httpx.Response(503, text="down"), Unavailable),
        (httpx.Response(200, content=json.dumps([1]).encode()), Unavailable),
    ],
)
async def test_token_endpoint_failures_become_refusals_or_unavailable(answer, expected):
    gw, http = gateway(answer)
    async with http:
        with pytest.raises(expected) as error:
            await gw.refresh(Provider.GOOGLE, refresh_token="1//r", tenant_id="")
    if expected is Unavailable:
        assert error.value.reason == "TOKEN_ENDPOINT_FAILED"
    else:
        assert error.value.invalid_grant
