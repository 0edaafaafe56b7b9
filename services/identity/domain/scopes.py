"""The scope catalogue: provider × purpose × access mode → exactly the specification's scopes.

This module is the single source of the scopes Rendezvous asks for
(``spec/organizational-accounts.md``). Nothing else in the code base spells a scope.

"Exactly the spec's scopes" is read as: the **permission set** requested equals the spec's list for
the combination — nothing added, nothing missing. Protocol parameters that grant no data access may
travel with it, and are kept apart from the permission set so tests can check both:

- Google: ``access_type=offline`` and ``prompt=consent`` are URL parameters, not scopes (they ask for
  a refresh token); the ``scope`` parameter is the spec list verbatim.
- Microsoft: Graph permissions are written as ``https://graph.microsoft.com/<Name>`` (the resource
  they belong to), ``openid``/``email`` stay as they are, and ``offline_access`` is added so that the
  token endpoint returns a refresh token. ``offline_access`` reads no data: it only lets the app keep
  the access the other scopes grant (:data:`PROTOCOL_ONLY_SCOPES`).
- Zoom and Webex: the spec list verbatim.
- Microsoft admin consent asks for ``https://graph.microsoft.com/.default`` (application permissions
  cannot be requested one by one); the client-credentials token's roles must then cover the spec's
  Graph permissions (:meth:`ScopeRequirement.app_permissions`). OpenID scopes have no app-role form.
- A Google service account signs its assertion for the API scopes only (the ``email``/``profile``
  identity scopes mean nothing for a service account).
- SuccessFactors has no scopes: access is decided by the SAML bearer grant's user and roles.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from kit.errors import FailedPrecondition, FieldViolation, InvalidArgument


class Provider(enum.StrEnum):
    """A company whose APIs Rendezvous is authorized to call."""

    GOOGLE = "GOOGLE"
    MICROSOFT = "MICROSOFT"
    ZOOM = "ZOOM"
    WEBEX = "WEBEX"
    SUCCESSFACTORS = "SUCCESSFACTORS"


class Purpose(enum.StrEnum):
    """What a credential is for."""

    CALENDAR = "CALENDAR"
    DIRECTORY = "DIRECTORY"
    CONFERENCING = "CONFERENCING"


class AccessMode(enum.StrEnum):
    """Calendar access mode (only meaningful for CALENDAR)."""

    READ_WRITE = "READ_WRITE"
    FREE_BUSY = "FREE_BUSY"
    NO_ACCESS = "NO_ACCESS"


class GrantType(enum.StrEnum):
    """How a credential is obtained."""

    AUTHORIZATION_CODE = "AUTHORIZATION_CODE"  # a user consents in the browser (PKCE)
    ADMIN_CONSENT = "ADMIN_CONSENT"  # Microsoft tenant-wide consent, then client credentials
    SERVICE_ACCOUNT = "SERVICE_ACCOUNT"  # Google service account with domain-wide delegation
    SERVER_TO_SERVER = "SERVER_TO_SERVER"  # Zoom server-to-server OAuth (account credentials)
    SAML_BEARER = "SAML_BEARER"  # SuccessFactors OAuth 2.0 SAML bearer


GOOGLE_AUTH = "https://www.googleapis.com/auth/"
GRAPH_RESOURCE = "https://graph.microsoft.com/"
GRAPH_DEFAULT = GRAPH_RESOURCE + ".default"
OPENID_SCOPES = frozenset({"openid", "email", "profile"})
OFFLINE_ACCESS = "offline_access"

#: Scopes added on the wire that grant no access to data, per provider (see the module docstring).
PROTOCOL_ONLY_SCOPES: Mapping[Provider, tuple[str, ...]] = {Provider.MICROSOFT: (OFFLINE_ACCESS,)}

# What Google reports in a token response for the OpenID shorthand scopes it was asked for.
_GOOGLE_REPORTED = {GOOGLE_AUTH + "userinfo.email": "email", GOOGLE_AUTH + "userinfo.profile": "profile"}

Key = tuple[Provider, Purpose, AccessMode | None]

#: The specification's lists, verbatim and in its order. ``None`` as mode: purposes without modes.
SPEC_SCOPES: Mapping[Key, tuple[str, ...]] = {
    (Provider.GOOGLE, Purpose.CALENDAR, AccessMode.READ_WRITE): (
        "email",
        "profile",
        GOOGLE_AUTH + "calendar",
    ),
    (Provider.GOOGLE, Purpose.CALENDAR, AccessMode.FREE_BUSY): (
        "email",
        "profile",
        GOOGLE_AUTH + "calendar.calendarlist.readonly",
        GOOGLE_AUTH + "calendar.events.freebusy",
    ),
    (Provider.MICROSOFT, Purpose.CALENDAR, AccessMode.READ_WRITE): ("openid", "email", "Calendars.ReadWrite.All"),
    (Provider.MICROSOFT, Purpose.CALENDAR, AccessMode.FREE_BUSY): ("openid", "email", "Calendars.ReadBasic.All"),
    (Provider.GOOGLE, Purpose.DIRECTORY, None): (
        GOOGLE_AUTH + "admin.directory.user.readonly",
        GOOGLE_AUTH + "admin.directory.domain.readonly",
    ),
    (Provider.MICROSOFT, Purpose.DIRECTORY, None): ("User.Read.All", "Organization.Read.All", "Place.Read.All"),
    (Provider.SUCCESSFACTORS, Purpose.DIRECTORY, None): (),
    (Provider.GOOGLE, Purpose.CONFERENCING, None): (
        GOOGLE_AUTH + "meetings.space.created",
        GOOGLE_AUTH + "meetings.space.readonly",
        GOOGLE_AUTH + "meetings.space.settings",
    ),
    (Provider.MICROSOFT, Purpose.CONFERENCING, None): ("OnlineMeetings.ReadWrite.All",),
    (Provider.WEBEX, Purpose.CONFERENCING, None): ("spark:kms", "meeting:admin_schedule_write", "spark:people_read"),
    (Provider.ZOOM, Purpose.CONFERENCING, None): ("meeting:write:admin", "user:read:admin"),
}

#: Which grants each provider supports (the browser grants need a mode-bearing catalogue entry too).
_GRANTS: Mapping[Provider, frozenset[GrantType]] = {
    Provider.GOOGLE: frozenset({GrantType.AUTHORIZATION_CODE, GrantType.SERVICE_ACCOUNT}),
    Provider.MICROSOFT: frozenset({GrantType.AUTHORIZATION_CODE, GrantType.ADMIN_CONSENT}),
    Provider.ZOOM: frozenset({GrantType.AUTHORIZATION_CODE, GrantType.SERVER_TO_SERVER}),
    Provider.WEBEX: frozenset({GrantType.AUTHORIZATION_CODE}),
    Provider.SUCCESSFACTORS: frozenset({GrantType.SAML_BEARER}),
}

BROWSER_GRANTS = frozenset({GrantType.AUTHORIZATION_CODE, GrantType.ADMIN_CONSENT})
ORGANIZATION_WIDE_GRANTS = frozenset(
    {GrantType.ADMIN_CONSENT, GrantType.SERVICE_ACCOUNT, GrantType.SERVER_TO_SERVER, GrantType.SAML_BEARER}
)


@dataclass(frozen=True)
class ScopeRequirement:
    """The spec's scopes for one provider, purpose and mode, and how they are asked for."""

    provider: Provider
    purpose: Purpose
    access_mode: AccessMode | None
    grant: GrantType
    scopes: tuple[str, ...]

    def app_permissions(self) -> tuple[str, ...]:
        """Scopes that exist as permissions of the API (OpenID identity scopes left out)."""
        return tuple(s for s in self.scopes if s not in OPENID_SCOPES)

    def requested(self) -> tuple[str, ...]:
        """The permission set this grant asks the provider for (what ``requested_scopes`` shows)."""
        if self.grant is GrantType.ADMIN_CONSENT:
            return ()  # `.default`: the app registration's application permissions
        if self.grant is GrantType.SERVICE_ACCOUNT:
            return self.app_permissions()
        return self.scopes

    def required(self) -> tuple[str, ...]:
        """What the provider must have granted for the credential to be usable."""
        if self.grant in (GrantType.ADMIN_CONSENT, GrantType.SERVICE_ACCOUNT):
            return self.app_permissions()
        return self.scopes

    def wire_scopes(self) -> tuple[str, ...]:
        """The literal values of the authorization request's ``scope`` parameter."""
        if self.grant is GrantType.ADMIN_CONSENT:
            return (GRAPH_DEFAULT,)
        if self.provider is Provider.MICROSOFT:
            graph = tuple(s if s in OPENID_SCOPES else GRAPH_RESOURCE + s for s in self.scopes)
            return graph + PROTOCOL_ONLY_SCOPES[Provider.MICROSOFT]
        return self.requested()

    def missing(self, granted: Iterable[str]) -> tuple[str, ...]:
        """Required scopes (spec spelling, spec order) that ``granted`` (as the provider reported it) lacks."""
        return missing_scopes(self.provider, self.required(), granted)


def canonical_scope(provider: Provider, reported: str) -> str:
    """A scope as a provider reports it, in the catalogue's spelling.

    Google reports ``email``/``profile`` as ``…/auth/userinfo.email``/``…/auth/userinfo.profile``;
    Microsoft reports Graph permissions with their resource prefix.
    """
    if provider is Provider.GOOGLE:
        return _GOOGLE_REPORTED.get(reported, reported)
    if provider is Provider.MICROSOFT and reported.lower().startswith(GRAPH_RESOURCE):
        return reported[len(GRAPH_RESOURCE) :]
    return reported


def canonical_scopes(provider: Provider, reported: Iterable[str]) -> tuple[str, ...]:
    """Every reported scope in catalogue spelling, sorted, without duplicates."""
    return tuple(sorted({canonical_scope(provider, s) for s in reported}))


def missing_scopes(provider: Provider, required: Iterable[str], granted: Iterable[str]) -> tuple[str, ...]:
    """The ``required`` scopes (in their order) that ``granted`` (as the provider reported it) lacks."""
    have = {_key(provider, canonical_scope(provider, g)) for g in granted}
    return tuple(s for s in required if _key(provider, s) not in have)


def _key(provider: Provider, scope: str) -> str:
    # Graph permission names are case-insensitive; the other providers' are not.
    return scope.lower() if provider is Provider.MICROSOFT else scope


def requirement(
    provider: Provider, purpose: Purpose, access_mode: AccessMode | None, grant: GrantType
) -> ScopeRequirement:
    """The catalogue entry for a combination, or the error the RPC answers.

    NO_ACCESS needs no authorization (FAILED_PRECONDITION, AUTHORIZATION_NOT_REQUIRED); a combination
    the spec does not list, or a grant the provider does not offer, is INVALID_ARGUMENT
    (UNSUPPORTED_COMBINATION).
    """
    if purpose is Purpose.CALENDAR and access_mode is AccessMode.NO_ACCESS:
        raise FailedPrecondition(
            "NO_ACCESS calendar connections need no authorization",
            reason="AUTHORIZATION_NOT_REQUIRED",
            metadata={"access_mode": AccessMode.NO_ACCESS.value},
        )
    mode = access_mode if purpose is Purpose.CALENDAR else None
    scopes = SPEC_SCOPES.get((provider, purpose, mode))
    if scopes is None or grant not in _GRANTS[provider]:
        raise unsupported(provider, purpose, access_mode, grant)
    if provider is Provider.SUCCESSFACTORS and purpose is not Purpose.DIRECTORY:
        raise unsupported(provider, purpose, access_mode, grant)
    if provider is Provider.ZOOM and grant is GrantType.SERVER_TO_SERVER and purpose is not Purpose.CONFERENCING:
        raise unsupported(provider, purpose, access_mode, grant)
    return ScopeRequirement(provider, purpose, mode, grant, scopes)


def unsupported(
    provider: Provider, purpose: Purpose, access_mode: AccessMode | None, grant: GrantType
) -> InvalidArgument:
    """INVALID_ARGUMENT (UNSUPPORTED_COMBINATION) naming the fields involved."""
    metadata = {"provider": provider.value, "purpose": purpose.value, "grant": grant.value}
    if access_mode is not None:
        metadata["access_mode"] = access_mode.value
    text = f"{provider.value} does not support {purpose.value}" + (
        f" in {access_mode.value}" if access_mode else ""
    ) + f" with the {grant.value} grant"
    return InvalidArgument(
        text,
        reason="UNSUPPORTED_COMBINATION",
        metadata=metadata,
        violations=[FieldViolation("provider", text)],
    )


def combinations() -> list[Key]:
    """Every combination the catalogue lists (for tests and documentation)."""
    return list(SPEC_SCOPES)
