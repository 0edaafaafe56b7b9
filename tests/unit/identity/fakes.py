"""Hand-written fakes of the identity ports (no I/O)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any

from kit.clock import FixedClock, SequentialIds
from kit.errors import Unavailable
from services.identity.domain.model import (
    Authorization,
    AuthorizationSecrets,
    AuthorizationState,
    Confirmation,
    Credential,
    CredentialSecrets,
    ProviderIdentity,
    TokenGrant,
)
from services.identity.domain.scopes import Provider, ScopeRequirement
from services.identity.domain.secrets import b64url
from services.identity.domain.verification import Resolution
from services.identity.ports import Authorizations, Confirmations, Credentials, ProviderRefused, SealedSecrets

START = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


@dataclass
class FakeDatabase:
    """The state several units of work (and several 'replicas') share."""

    authorizations: dict[str, dict[str, Any]] = field(default_factory=dict)
    credentials: dict[str, dict[str, Any]] = field(default_factory=dict)
    confirmations: dict[str, dict[str, Any]] = field(default_factory=dict)
    current_key: str = "k1"


class FakeAuthorizations:
    def __init__(self, db: FakeDatabase) -> None:
        self.rows = db.authorizations
        self.db = db

    async def add(self, authorization: Authorization, state_hash: str, secrets: AuthorizationSecrets) -> None:
        self.rows[authorization.id] = {"a": authorization, "hash": state_hash, "secrets": secrets,
                                       "claim": None, "key": self.db.current_key}  # fmt: skip

    async def get(self, authorization_id: str) -> Authorization | None:
        row = self.rows.get(authorization_id)
        return row["a"] if row else None

    async def by_state_hash(self, state_hash: str) -> Authorization | None:
        return next((r["a"] for r in self.rows.values() if r["hash"] == state_hash), None)

    async def by_request_id(self, org_unit_id: str, request_id: str) -> Authorization | None:
        return next(
            (r["a"] for r in self.rows.values() if (r["a"].org_unit_id, r["a"].request_id) == (org_unit_id, request_id)),
            None,
        )

    async def secrets(self, authorization_id: str) -> AuthorizationSecrets | None:
        return self.rows[authorization_id]["secrets"]

    async def claim(self, authorization_id: str, now: datetime, until: datetime) -> bool:
        row = self.rows[authorization_id]
        if row["a"].state is not AuthorizationState.PENDING or (row["claim"] and row["claim"] > now):
            return False
        row["claim"] = until
        return True

    async def release(self, authorization_id: str) -> None:
        self.rows[authorization_id]["claim"] = None

    async def finish(self, authorization: Authorization) -> bool:
        row = self.rows[authorization.id]
        if row["a"].state is not AuthorizationState.PENDING:
            return False
        row.update(a=authorization, secrets=None, claim=None)
        return True

    async def stale_key_ids(self, limit: int) -> list[str]:
        return [i for i, r in self.rows.items() if r["secrets"] and r["key"] != self.db.current_key][:limit]

    async def rekey(self, authorization_id: str) -> bool:
        row = self.rows[authorization_id]
        stale = row["key"] != self.db.current_key
        row["key"] = self.db.current_key
        return stale


class FakeCredentials:
    def __init__(self, db: FakeDatabase) -> None:
        self.rows = db.credentials
        self.db = db

    async def add(self, credential: Credential, secrets: CredentialSecrets) -> None:
        self.rows[credential.id] = {"c": credential, "s": secrets, "key": self.db.current_key,
                                    "lease": None, "pending": False}  # fmt: skip

    async def get(self, credential_id: str) -> Credential | None:
        row = self.rows.get(credential_id)
        return row["c"] if row else None

    async def by_request_id(self, org_unit_id: str, request_id: str) -> Credential | None:
        return next(
            (r["c"] for r in self.rows.values() if (r["c"].org_unit_id, r["c"].request_id) == (org_unit_id, request_id)),
            None,
        )

    async def page(self, org_unit_id: str, after: tuple[str, str] | None, limit: int, show_revoked: bool) -> list[Credential]:
        items = sorted((r["c"] for r in self.rows.values() if r["c"].org_unit_id == org_unit_id),
                       key=lambda c: (c.create_time.isoformat(), c.id))  # fmt: skip
        if not show_revoked:
            items = [c for c in items if c.state.value != "REVOKED"]
        if after:
            items = [c for c in items if (c.create_time.isoformat(), c.id) > after]
        return items[:limit]

    async def update(self, credential: Credential) -> None:
        self.rows[credential.id]["c"] = credential

    async def secrets(self, credential_id: str) -> SealedSecrets | None:
        row = self.rows.get(credential_id)
        if row is None or row["s"] is None:
            return None
        return SealedSecrets(row["s"], row["key"] != self.db.current_key)

    async def store_secrets(self, credential_id: str, secrets: CredentialSecrets) -> None:
        self.rows[credential_id].update(s=secrets, key=self.db.current_key)

    async def wipe_secrets(self, credential_id: str) -> None:
        self.rows[credential_id]["s"] = None

    async def try_lease(self, credential_id: str, holder: str, now: datetime, until: datetime) -> bool:
        row = self.rows[credential_id]
        lease = row["lease"]
        if lease and lease[0] != holder and lease[1] > now:
            return False
        row["lease"] = (holder, until)
        return True

    async def release_lease(self, credential_id: str, holder: str) -> None:
        row = self.rows[credential_id]
        if row["lease"] and row["lease"][0] == holder:
            row["lease"] = None

    async def set_revocation_pending(self, credential_id: str, pending: bool) -> None:
        self.rows[credential_id]["pending"] = pending

    async def pending_revocations(self, limit: int) -> list[str]:
        return [i for i, r in self.rows.items() if r["pending"]][:limit]

    async def stale_key_ids(self, limit: int) -> list[str]:
        return [i for i, r in self.rows.items() if r["s"] is not None and r["key"] != self.db.current_key][:limit]


class FakeConfirmations:
    def __init__(self, db: FakeDatabase) -> None:
        self.rows = db.confirmations

    async def add(self, confirmation: Confirmation, token_hash: str) -> None:
        self.rows[confirmation.id] = {"c": confirmation, "hash": token_hash}

    async def by_token_hash(self, token_hash: str) -> tuple[Confirmation, str] | None:
        row = next((r for r in self.rows.values() if r["hash"] == token_hash), None)
        return (row["c"], row["hash"]) if row else None

    async def by_request_id(self, org_unit_id: str, request_id: str) -> Confirmation | None:
        return next(
            (r["c"] for r in self.rows.values() if (r["c"].org_unit_id, r["c"].request_id) == (org_unit_id, request_id)),
            None,
        )

    async def delete(self, confirmation_id: str) -> None:
        self.rows.pop(confirmation_id, None)

    async def confirm(self, confirmation: Confirmation) -> bool:
        row = self.rows[confirmation.id]
        if row["c"].confirm_time is not None:
            return False
        row["c"] = confirmation
        return True

    async def confirmed_until(self, org_unit_id: str, email: str, now: datetime) -> datetime | None:
        times = [r["c"].valid_until for r in self.rows.values()
                 if (r["c"].org_unit_id, r["c"].email) == (org_unit_id, email)
                 and r["c"].valid_until and r["c"].valid_until > now]  # fmt: skip
        return max(times) if times else None

    async def sent_since(self, org_unit_id: str, email: str, since: datetime) -> int:
        return sum(1 for r in self.rows.values()
                   if (r["c"].org_unit_id, r["c"].email) == (org_unit_id, email) and r["c"].create_time >= since)  # fmt: skip


class FakeUnitOfWork:
    """Writes go straight to the shared FakeDatabase (like autocommit); ``commits`` counts commits."""

    commits = 0
    authorizations: Authorizations
    credentials: Credentials
    confirmations: Confirmations

    def __init__(self, db: FakeDatabase) -> None:
        self.authorizations = FakeAuthorizations(db)
        self.credentials = FakeCredentials(db)
        self.confirmations = FakeConfirmations(db)

    async def __aenter__(self) -> FakeUnitOfWork:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    async def commit(self) -> None:
        FakeUnitOfWork.commits += 1


class FakeProviders:
    """Records every call; answers from ``next_*`` values or raises what ``fail_with`` holds."""

    def __init__(self, clock: FixedClock) -> None:
        self.clock = clock
        self.calls: list[tuple[str, Any]] = []
        self.granted: frozenset[str] | None = None  # None: grant what was asked
        self.identity = ProviderIdentity("tenant-1", "subject-1", "ada@northwind.example")
        self.fail_with: Exception | None = None
        self.delay = 0.0
        self.counter = 0
        self.rotate = True

    def authorization_url(self, requirement: ScopeRequirement, *, state: str, code_verifier: str, login_hint: str) -> str:
        self.calls.append(("authorization_url", requirement))
        return f"https://provider.example/auth?scope={'+'.join(requirement.wire_scopes())}&state={state}"

    async def _grant(self, kind: str, reported: frozenset[str] | None, **details: Any) -> TokenGrant:
        self.calls.append((kind, details))
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail_with is not None:
            raise self.fail_with
        self.counter += 1
        return TokenGrant(
            access_token=f"access-{self.counter}",
            expires_at=self.clock.now() + timedelta(hours=1),
            scopes=self.granted if self.granted is not None else reported,
            refresh_token=f"refresh-{self.counter}" if self.rotate or self.counter == 1 else "",
            identity=self.identity,
        )

    async def exchange_code(self, provider: Provider, *, code: str, code_verifier: str) -> TokenGrant:
        return await self._grant("exchange_code", None, provider=provider, code=code, verifier=code_verifier)

    async def refresh(self, provider: Provider, *, refresh_token: str, tenant_id: str) -> TokenGrant:
        return await self._grant("refresh", None, provider=provider, refresh_token=refresh_token)

    async def app_token(self, tenant: str) -> TokenGrant:
        return await self._grant("app_token", None, tenant=tenant)

    async def service_account_token(self, key_json: str, subject: str, scopes: tuple[str, ...]) -> TokenGrant:
        return await self._grant("service_account_token", None, subject=subject, scopes=scopes)

    async def zoom_account_token(self, account_id: str, client_id: str, client_secret: str) -> TokenGrant:
        return await self._grant("zoom_account_token", None, account_id=account_id)

    async def successfactors_token(self, api_server_url: str, company_id: str, client_id: str, *, assertion: str = "",
                                   user_id: str = "", private_key: str = "") -> TokenGrant:
        return await self._grant("successfactors_token", None, company_id=company_id)

    async def revoke(self, provider: Provider, token: str, service: Mapping[str, str]) -> bool:
        self.calls.append(("revoke", {"provider": provider, "token": token}))
        if self.fail_with is not None:
            raise self.fail_with
        return True

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.calls]


def token_endpoint_down(provider: Provider = Provider.GOOGLE) -> Unavailable:
    return Unavailable("token endpoint failed", reason="TOKEN_ENDPOINT_FAILED", metadata={"provider": provider.value})


def refused(error: str = "invalid_grant", provider: Provider = Provider.GOOGLE) -> ProviderRefused:
    return ProviderRefused(provider, error, "Token has been expired or revoked.", 400)


class FakeSecrets:
    """Predictable 'random' secrets."""

    def __init__(self) -> None:
        self.n = 0

    def token(self, nbytes: int = 32) -> str:
        self.n += 1
        return b64url(hashlib.sha256(f"secret-{self.n}".encode()).digest())[: max(22, nbytes)]


class FakeSigner:
    def __init__(self, key: bytes = b"k" * 32) -> None:
        self.key = key

    def sign(self, payload: bytes) -> str:
        return b64url(hmac.new(self.key, payload, hashlib.sha256).digest())

    def verify(self, payload: bytes, signature: str) -> bool:
        return hmac.compare_digest(self.sign(payload), signature)


class FakeDirectory:
    def __init__(self) -> None:
        self.answers: dict[tuple[str, str], Resolution] = {}
        self.fail_with: Exception | None = None

    async def resolve(self, org_unit_id: str, email: str) -> Resolution:
        if self.fail_with is not None:
            raise self.fail_with
        return self.answers.get((org_unit_id, email), Resolution(None, None))


class FakeMailboxes:
    def __init__(self) -> None:
        self.known: set[str] = set()
        self.fail_with: Exception | None = None
        self.asked: list[tuple[Provider, str, str]] = []

    async def exists(self, provider: Provider, access_token: str, *, asking_as: str, email: str) -> bool:
        self.asked.append((provider, asking_as, email))
        if self.fail_with is not None:
            raise self.fail_with
        return email in self.known


class FakeMailer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []
        self.fail_with: Exception | None = None

    async def send(self, to: str, subject: str, body: str) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.sent.append((to, subject, body))


def make_clock() -> FixedClock:
    return FixedClock(START)


def ids(prefix: str = "id") -> SequentialIds:
    return SequentialIds(prefix)


def expire_stored_token(db: FakeDatabase, credential_id: str, clock: FixedClock) -> None:
    row = db.credentials[credential_id]
    row["c"] = replace(row["c"], access_token_expire_time=clock.now() - timedelta(seconds=1))
