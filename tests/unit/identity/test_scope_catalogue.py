"""The scopes requested are exactly the spec's, for every provider × purpose × mode.

The expected lists below are copied from spec/organizational-accounts.md by hand (not imported from
the catalogue), and the requested scopes are parsed back out of the authorization URL the real
provider adapter builds.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from kit.errors import FailedPrecondition, InvalidArgument
from providers import ProviderEndpoints, ProviderHttp, Providers
from services.identity.adapters.providers import ProviderGateway
from services.identity.bootstrap import provider_apps
from services.identity.domain.scopes import (
    AccessMode,
    GrantType,
    Provider,
    Purpose,
    combinations,
    missing_scopes,
    requirement,
)
from services.identity.settings import IdentitySettings

G = "https://www.googleapis.com/auth/"
SPEC = {
    ("GOOGLE", "CALENDAR", "READ_WRITE"): {"email", "profile", G + "calendar"},
    ("GOOGLE", "CALENDAR", "FREE_BUSY"): {
        "email", "profile", G + "calendar.calendarlist.readonly", G + "calendar.events.freebusy"},
    ("MICROSOFT", "CALENDAR", "READ_WRITE"): {"openid", "email", "Calendars.ReadWrite.All"},
    ("MICROSOFT", "CALENDAR", "FREE_BUSY"): {"openid", "email", "Calendars.ReadBasic.All"},
    ("GOOGLE", "DIRECTORY", None): {G + "admin.directory.user.readonly", G + "admin.directory.domain.readonly"},
    ("MICROSOFT", "DIRECTORY", None): {"User.Read.All", "Organization.Read.All", "Place.Read.All"},
    ("GOOGLE", "CONFERENCING", None): {
        G + "meetings.space.created", G + "meetings.space.readonly", G + "meetings.space.settings"},
    ("MICROSOFT", "CONFERENCING", None): {"OnlineMeetings.ReadWrite.All"},
    ("WEBEX", "CONFERENCING", None): {"spark:kms", "meeting:admin_schedule_write", "spark:people_read"},
    ("ZOOM", "CONFERENCING", None): {"meeting:write:admin", "user:read:admin"},
}  # fmt: skip
# What each provider's authorization URL carries literally in `scope`, in order.
LITERAL = {
    ("GOOGLE", "CALENDAR", "READ_WRITE"): f"email profile {G}calendar",
    ("MICROSOFT", "CALENDAR", "READ_WRITE"):
        "openid email https://graph.microsoft.com/Calendars.ReadWrite.All offline_access",
    ("MICROSOFT", "CALENDAR", "FREE_BUSY"):
        "openid email https://graph.microsoft.com/Calendars.ReadBasic.All offline_access",
    ("MICROSOFT", "DIRECTORY", None): "https://graph.microsoft.com/User.Read.All "
        "https://graph.microsoft.com/Organization.Read.All https://graph.microsoft.com/Place.Read.All offline_access",
    ("MICROSOFT", "CONFERENCING", None): "https://graph.microsoft.com/OnlineMeetings.ReadWrite.All offline_access",
    ("ZOOM", "CONFERENCING", None): "meeting:write:admin user:read:admin",
    ("WEBEX", "CONFERENCING", None): "spark:kms meeting:admin_schedule_write spark:people_read",
}  # fmt: skip
PROTOCOL_ONLY = {"offline_access"}  # grants no data access; asks Microsoft for a refresh token
BROWSER = [key for key in SPEC if key[0] != "SUCCESSFACTORS"]


@pytest.fixture
def gateway():
    settings = IdentitySettings()
    providers = Providers(ProviderHttp(), ProviderEndpoints(), provider_apps(settings))
    return ProviderGateway(providers, redirect_uri=settings.redirect_uri,
                           microsoft_tenant="organizations")  # fmt: skip


def _requirement(key, grant=GrantType.AUTHORIZATION_CODE):
    provider, purpose, mode = key
    return requirement(Provider(provider), Purpose(purpose), AccessMode(mode) if mode else None, grant)


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def _permission_set(scope: str) -> set[str]:
    return {s.removeprefix("https://graph.microsoft.com/") for s in scope.split()} - PROTOCOL_ONLY


def test_the_catalogue_lists_exactly_the_specs_combinations():
    listed = {(p.value, u.value, m.value if m else None) for p, u, m in combinations()}
    assert listed == set(SPEC) | {("SUCCESSFACTORS", "DIRECTORY", None)}


@pytest.mark.parametrize("key", BROWSER, ids=lambda k: "-".join(x for x in k if x))
def test_the_authorization_url_requests_exactly_the_specs_scopes(gateway, key):
    req = _requirement(key)
    url = gateway.authorization_url(req, state="s" * 43, code_verifier="v" * 64, login_hint="")
    query = _query(url)
    assert _permission_set(query["scope"]) == SPEC[key]
    assert set(req.requested()) == SPEC[key]
    assert set(req.required()) == SPEC[key]
    if key in LITERAL:
        assert query["scope"] == LITERAL[key]
    assert query["code_challenge_method"] == "S256" and query["state"] == "s" * 43


@pytest.mark.parametrize("key", [k for k in BROWSER if k[0] == "GOOGLE"], ids=lambda k: "-".join(x for x in k if x))
def test_google_asks_for_a_refresh_token_by_parameters_not_by_scopes(gateway, key):
    query = _query(gateway.authorization_url(_requirement(key), state="s" * 43, code_verifier="v" * 64, login_hint=""))
    assert (query["access_type"], query["prompt"], query["include_granted_scopes"]) == ("offline", "consent", "false")
    assert query["scope"].split() == list(_requirement(key).scopes)


@pytest.mark.parametrize("purpose, mode", [("CALENDAR", "FREE_BUSY"), ("DIRECTORY", None), ("CONFERENCING", None)])
def test_microsoft_admin_consent_uses_default_and_requires_the_specs_graph_permissions(gateway, purpose, mode):
    req = _requirement(("MICROSOFT", purpose, mode), GrantType.ADMIN_CONSENT)
    query = _query(gateway.authorization_url(req, state="s" * 43, code_verifier="v" * 64, login_hint="admin@x.example"))
    assert query["scope"] == "https://graph.microsoft.com/.default"
    assert set(req.required()) == SPEC[("MICROSOFT", purpose, mode)] - {"openid", "email"}
    assert req.requested() == ()
    assert urlsplit(gateway.authorization_url(req, state="s", code_verifier="v", login_hint="")).path.endswith(
        "/organizations/v2.0/adminconsent"
    )


@pytest.mark.parametrize("purpose, mode", [("CALENDAR", "READ_WRITE"), ("CALENDAR", "FREE_BUSY"),
                                           ("DIRECTORY", None), ("CONFERENCING", None)])  # fmt: skip
def test_a_google_service_account_asks_for_the_api_scopes_only(purpose, mode):
    req = _requirement(("GOOGLE", purpose, mode), GrantType.SERVICE_ACCOUNT)
    assert set(req.requested()) == SPEC[("GOOGLE", purpose, mode)] - {"email", "profile"}


@pytest.mark.parametrize("provider", ["GOOGLE", "MICROSOFT"])
def test_no_access_needs_no_authorization(provider):
    with pytest.raises(FailedPrecondition) as error:
        _requirement((provider, "CALENDAR", "NO_ACCESS"))
    assert error.value.reason == "AUTHORIZATION_NOT_REQUIRED"


@pytest.mark.parametrize(
    "key, grant",
    [
        (("ZOOM", "CALENDAR", "READ_WRITE"), GrantType.AUTHORIZATION_CODE),
        (("WEBEX", "DIRECTORY", None), GrantType.AUTHORIZATION_CODE),
        (("ZOOM", "DIRECTORY", None), GrantType.AUTHORIZATION_CODE),
        (("SUCCESSFACTORS", "DIRECTORY", None), GrantType.AUTHORIZATION_CODE),
        (("SUCCESSFACTORS", "CONFERENCING", None), GrantType.SAML_BEARER),
        (("GOOGLE", "CALENDAR", "READ_WRITE"), GrantType.ADMIN_CONSENT),
        (("WEBEX", "CONFERENCING", None), GrantType.ADMIN_CONSENT),
        (("MICROSOFT", "DIRECTORY", None), GrantType.SERVICE_ACCOUNT),
    ],
)
def test_anything_else_is_an_unsupported_combination(key, grant):
    with pytest.raises(InvalidArgument) as error:
        _requirement(key, grant)
    assert error.value.reason == "UNSUPPORTED_COMBINATION"
    assert error.value.violations and error.value.metadata["provider"] == key[0]


def test_granted_scopes_are_compared_in_the_providers_own_spelling():
    google = _requirement(("GOOGLE", "CALENDAR", "FREE_BUSY"))
    reported = {G + "userinfo.email", G + "userinfo.profile", G + "calendar.events.freebusy"}
    assert google.missing(reported) == (G + "calendar.calendarlist.readonly",)
    microsoft = _requirement(("MICROSOFT", "CALENDAR", "READ_WRITE"))
    assert microsoft.missing({"openid", "email", "https://graph.microsoft.com/calendars.readwrite.all"}) == ()
    assert missing_scopes(Provider.ZOOM, ("meeting:write:admin", "user:read:admin"), ["user:read:admin"]) == (
        "meeting:write:admin",
    )
