"""The core stores: tokens, faults, consents, codes and the request log."""

import pytest

from sandbox.core import (
    CodeStore,
    ConsentStore,
    FaultStore,
    OAuthClient,
    RequestLog,
    TokenStore,
    pkce_s256,
    redirect_uri_allowed,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def issue(store: TokenStore, kind: str = "access", family: str = "", subject: str = "u1") -> str:
    return store.issue(
        provider="google",
        kind=kind,
        client_id="c",
        scopes=["s"],
        subject=subject,
        email="e",
        tenant="t",
        ttl=60,
        family=family,
    ).token


def test_issued_tokens_are_active_until_they_expire() -> None:
    clock = Clock()
    store = TokenStore(clock)
    grant = store.get(issue(store))
    assert grant is not None and grant.active(clock.now)
    assert not grant.active(clock.now + 61)
    assert grant.token.startswith("ya29.")


def test_revoking_a_refresh_token_revokes_its_family_only() -> None:
    store = TokenStore(Clock())
    refresh = issue(store, "refresh")
    family = store.get(refresh).family  # type: ignore[union-attr]
    access = issue(store, family=family)
    other = issue(store)
    assert store.revoke(refresh)
    assert store.get(access).revoked  # type: ignore[union-attr]
    assert not store.get(other).revoked  # type: ignore[union-attr]
    assert not store.revoke(refresh), "a second revoke reports nothing revoked"
    assert not store.revoke("unknown")


def test_revoke_subject_and_expire() -> None:
    clock = Clock()
    store = TokenStore(clock)
    a, b = issue(store, subject="x"), issue(store, subject="y")
    assert store.revoke_subject("google", "x") == 1
    store.expire(b)
    assert store.get(a).revoked  # type: ignore[union-attr]
    assert not store.get(b).active(clock.now)  # type: ignore[union-attr]


def test_route_faults_match_by_name_glob_and_provider_and_are_consumed() -> None:
    faults = FaultStore()
    faults.add(route="google.freeBusy", kind="status", status=429, times=2)
    faults.add(route="zoom.*", kind="latency", latency_ms=5)
    faults.add(provider="webex", kind="status", times=None)
    assert faults.take_route_fault("google.events.insert", "google") is None
    assert faults.take_route_fault("google.freeBusy", "google").status == 429  # type: ignore[union-attr]
    assert faults.take_route_fault("google.freeBusy", "google") is not None
    assert faults.take_route_fault("google.freeBusy", "google") is None
    assert faults.take_route_fault("zoom.users.get", "zoom").kind == "latency"  # type: ignore[union-attr]
    for _ in range(3):
        assert faults.take_route_fault("webex.people", "webex") is not None


def test_calendar_faults_are_only_taken_for_their_calendar() -> None:
    faults = FaultStore()
    faults.add(calendar="Ada@x.example", kind="status", status=500)
    assert faults.take_route_fault("google.freeBusy", "google") is None
    assert faults.take_calendar_fault("google", "bob@x.example") is None
    assert faults.take_calendar_fault("google", "ada@x.example") is not None
    assert faults.all() == []


def test_fault_kinds_and_times_are_validated() -> None:
    with pytest.raises(ValueError):
        FaultStore().add(kind="explode")
    with pytest.raises(ValueError):
        FaultStore().add(kind="status", times=0)


def test_request_log_filters_by_route_provider_and_since() -> None:
    log = RequestLog(Clock())
    first = log.record({"route": "google.freeBusy", "provider": "google"})
    log.record({"route": "zoom.users.get", "provider": "zoom"})
    assert [e["route"] for e in log.query(route="google.*")] == ["google.freeBusy"]
    assert [e["route"] for e in log.query(provider="zoom")] == ["zoom.users.get"]
    assert [e["route"] for e in log.query(since=first["seq"])] == ["zoom.users.get"]


def test_consent_is_consumed_once_and_matched_case_insensitively() -> None:
    consents = ConsentStore()
    consents.set("google", "Ada@X.example", ["a"], False)
    decision = consents.take("google", "ada@x.example")
    assert decision is not None and decision.grant_only == frozenset({"a"})
    assert consents.take("google", "ada@x.example") is None


def test_codes_are_single_use_and_expire() -> None:
    clock = Clock()
    codes = CodeStore(clock)
    fields = dict(client_id="c", redirect_uri="r", scopes=(), subject=None, email=None, tenant=None)
    code = codes.new("google", **fields)
    assert codes.take("zoom", code.code) is None, "another provider's code"
    code = codes.new("google", **fields)
    assert codes.take("google", code.code) is not None
    assert codes.take("google", code.code) is None
    late = codes.new("google", **fields)
    clock.now += 601
    assert codes.take("google", late.code) is None


def test_pkce_and_loopback_redirects() -> None:
    # RFC 7636 appendix B
    assert (
        pkce_s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
        == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    )
    client = OAuthClient("c", "s", ("https://app.example/cb",))
    assert redirect_uri_allowed(client, "https://app.example/cb")
    assert redirect_uri_allowed(client, "http://127.0.0.1:51234/oauth/callback")
    assert not redirect_uri_allowed(client, "http://127.0.0.1:51234/other")
    assert not redirect_uri_allowed(client, "https://evil.example/cb")
    assert not redirect_uri_allowed(client, None)
