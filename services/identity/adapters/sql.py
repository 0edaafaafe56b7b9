"""SQL repositories and the unit of work of the identity service.

Secrets are serialized to JSON and sealed with the :class:`~services.identity.adapters.cipher.Keyring`
here, so no other layer ever handles ciphertext, and nothing but ciphertext reaches the database.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from sqlalchemy import and_, delete, exc, func, insert, or_, select, true, tuple_, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kit.db import SqlUnitOfWork, constraint_name
from kit.errors import AlreadyExists
from services.identity.adapters.cipher import Keyring
from services.identity.adapters.tables import authorizations, confirmations, credentials
from services.identity.domain.model import (
    Authorization,
    AuthorizationSecrets,
    AuthorizationState,
    Confirmation,
    Credential,
    CredentialKind,
    CredentialSecrets,
    CredentialState,
)
from services.identity.domain.scopes import AccessMode, GrantType, Provider, Purpose
from services.identity.ports import Authorizations, Confirmations, Credentials, SealedSecrets


def _aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _at(value: datetime) -> datetime:
    result = _aware(value)
    assert result is not None
    return result


def _scopes(text: str) -> tuple[str, ...]:
    return tuple(text.split())


def _rowcount(result: Any) -> int:
    return int(result.rowcount) if isinstance(result, CursorResult) else 0


def _authorization(row: Any) -> Authorization:
    return Authorization(
        id=row.id,
        org_unit_id=row.org_unit_id,
        provider=Provider(row.provider),
        purpose=Purpose(row.purpose),
        access_mode=AccessMode(row.access_mode) if row.access_mode else None,
        grant=GrantType(row.grant_type),
        return_uri=row.return_uri,
        login_hint=row.login_hint,
        requested_scopes=_scopes(row.requested_scopes),
        state=AuthorizationState(row.state),
        expire_time=_at(row.expire_time),
        create_time=_at(row.create_time),
        update_time=_at(row.update_time),
        credential_id=row.credential_id,
        failure_reason=row.failure_reason,
        failure_message=row.failure_message,
        complete_time=_aware(row.complete_time),
        request_id=row.request_id or "",
    )


def _credential(row: Any) -> Credential:
    return Credential(
        id=row.id,
        org_unit_id=row.org_unit_id,
        provider=Provider(row.provider),
        purpose=Purpose(row.purpose),
        access_mode=AccessMode(row.access_mode) if row.access_mode else None,
        kind=CredentialKind(row.kind),
        grant=GrantType(row.grant_type),
        tenant_id=row.tenant_id,
        subject_id=row.subject_id,
        subject_email=row.subject_email,
        granted_scopes=_scopes(row.granted_scopes),
        required_scopes=_scopes(row.required_scopes),
        state=CredentialState(row.state),
        create_time=_at(row.create_time),
        update_time=_at(row.update_time),
        access_token_expire_time=_aware(row.access_token_expire_time),
        state_message=row.state_message,
        authorization_id=row.authorization_id,
        revoke_time=_aware(row.revoke_time),
        request_id=row.request_id or "",
    )


def _confirmation(row: Any) -> Confirmation:
    return Confirmation(
        id=row.id,
        org_unit_id=row.org_unit_id,
        email=row.email,
        create_time=_at(row.create_time),
        expire_time=_at(row.expire_time),
        request_id=row.request_id or "",
        confirm_time=_aware(row.confirm_time),
        valid_until=_aware(row.valid_until),
    )


class SqlAuthorizations:
    def __init__(self, session: AsyncSession, keys: Keyring) -> None:
        self._s = session
        self._keys = keys

    def _seal(self, authorization_id: str, secrets: AuthorizationSecrets) -> tuple[str, bytes]:
        return self._keys.seal(json.dumps(asdict(secrets)).encode(), f"authorizations:{authorization_id}")

    async def add(self, authorization: Authorization, state_hash: str, secrets: AuthorizationSecrets) -> None:
        kid, sealed = self._seal(authorization.id, secrets)
        a = authorization
        await self._s.execute(
            insert(authorizations).values(
                id=a.id, org_unit_id=a.org_unit_id, provider=a.provider.value, purpose=a.purpose.value,
                access_mode=a.access_mode.value if a.access_mode else None, grant_type=a.grant.value,
                return_uri=a.return_uri, login_hint=a.login_hint, requested_scopes=" ".join(a.requested_scopes),
                state=a.state.value, state_hash=state_hash, secret_ciphertext=sealed, key_id=kid,
                credential_id=a.credential_id, failure_reason=a.failure_reason, failure_message=a.failure_message,
                request_id=a.request_id or None, expire_time=a.expire_time, complete_time=a.complete_time,
                create_time=a.create_time, update_time=a.update_time,
            )
        )  # fmt: skip

    async def _one(self, *where: Any) -> Authorization | None:
        row = (await self._s.execute(select(authorizations).where(*where))).first()
        return _authorization(row) if row else None

    async def get(self, authorization_id: str) -> Authorization | None:
        return await self._one(authorizations.c.id == authorization_id)

    async def by_state_hash(self, state_hash: str) -> Authorization | None:
        return await self._one(authorizations.c.state_hash == state_hash)

    async def by_request_id(self, org_unit_id: str, request_id: str) -> Authorization | None:
        return await self._one(authorizations.c.org_unit_id == org_unit_id, authorizations.c.request_id == request_id)

    async def secrets(self, authorization_id: str) -> AuthorizationSecrets | None:
        row = (
            await self._s.execute(
                select(authorizations.c.secret_ciphertext, authorizations.c.key_id).where(
                    authorizations.c.id == authorization_id
                )
            )
        ).first()
        if row is None or row.secret_ciphertext is None:
            return None
        plain = self._keys.open(row.key_id, row.secret_ciphertext, f"authorizations:{authorization_id}")
        return AuthorizationSecrets(**json.loads(plain))

    async def claim(self, authorization_id: str, now: datetime, until: datetime) -> bool:
        c = authorizations.c
        result = await self._s.execute(
            update(authorizations)
            .where(c.id == authorization_id, c.state == AuthorizationState.PENDING.value,
                   or_(c.claim_until.is_(None), c.claim_until < now))
            .values(claim_until=until)
        )  # fmt: skip
        return _rowcount(result) == 1

    async def release(self, authorization_id: str) -> None:
        await self._s.execute(
            update(authorizations).where(authorizations.c.id == authorization_id).values(claim_until=None)
        )

    async def finish(self, authorization: Authorization) -> bool:
        a = authorization
        c = authorizations.c
        result = await self._s.execute(
            update(authorizations)
            .where(c.id == a.id, c.state == AuthorizationState.PENDING.value)
            .values(
                state=a.state.value, credential_id=a.credential_id, failure_reason=a.failure_reason,
                failure_message=a.failure_message, complete_time=a.complete_time, update_time=a.update_time,
                claim_until=None, secret_ciphertext=None, key_id=None,
            )
        )  # fmt: skip
        return _rowcount(result) == 1

    async def stale_key_ids(self, limit: int) -> list[str]:
        c = authorizations.c
        query = select(c.id).where(c.key_id.is_not(None), c.key_id != self._keys.current_kid).limit(limit)
        return list((await self._s.scalars(query)).all())

    async def rekey(self, authorization_id: str) -> bool:
        row = (
            await self._s.execute(
                select(authorizations.c.key_id).where(authorizations.c.id == authorization_id)
            )
        ).first()
        if row is None or row.key_id is None or row.key_id == self._keys.current_kid:
            return False
        secrets = await self.secrets(authorization_id)
        assert secrets is not None
        kid, sealed = self._seal(authorization_id, secrets)
        await self._s.execute(
            update(authorizations)
            .where(authorizations.c.id == authorization_id, authorizations.c.key_id == row.key_id)
            .values(secret_ciphertext=sealed, key_id=kid)
        )
        return True


class SqlCredentials:
    def __init__(self, session: AsyncSession, keys: Keyring) -> None:
        self._s = session
        self._keys = keys

    def _seal(self, credential_id: str, secrets: CredentialSecrets) -> tuple[str, bytes]:
        body = {**asdict(secrets), "service": dict(secrets.service)}
        return self._keys.seal(json.dumps(body).encode(), f"credentials:{credential_id}")

    async def add(self, credential: Credential, secrets: CredentialSecrets) -> None:
        kid, sealed = self._seal(credential.id, secrets)
        await self._s.execute(
            insert(credentials).values(
                **self._values(credential), id=credential.id, org_unit_id=credential.org_unit_id,
                provider=credential.provider.value, purpose=credential.purpose.value,
                access_mode=credential.access_mode.value if credential.access_mode else None,
                kind=credential.kind.value, grant_type=credential.grant.value,
                authorization_id=credential.authorization_id, request_id=credential.request_id or None,
                create_time=credential.create_time, secret_ciphertext=sealed, key_id=kid,
            )
        )  # fmt: skip

    @staticmethod
    def _values(credential: Credential) -> dict[str, Any]:
        """The columns a credential's lifecycle changes."""
        return {
            "tenant_id": credential.tenant_id,
            "subject_id": credential.subject_id,
            "subject_email": credential.subject_email,
            "granted_scopes": " ".join(credential.granted_scopes),
            "required_scopes": " ".join(credential.required_scopes),
            "state": credential.state.value,
            "state_message": credential.state_message,
            "access_token_expire_time": credential.access_token_expire_time,
            "update_time": credential.update_time,
            "revoke_time": credential.revoke_time,
        }

    async def _one(self, *where: Any) -> Credential | None:
        row = (await self._s.execute(select(credentials).where(*where))).first()
        return _credential(row) if row else None

    async def get(self, credential_id: str) -> Credential | None:
        return await self._one(credentials.c.id == credential_id)

    async def by_request_id(self, org_unit_id: str, request_id: str) -> Credential | None:
        return await self._one(credentials.c.org_unit_id == org_unit_id, credentials.c.request_id == request_id)

    async def page(
        self, org_unit_id: str, after: tuple[str, str] | None, limit: int, show_revoked: bool
    ) -> list[Credential]:
        c = credentials.c
        query = select(credentials).where(c.org_unit_id == org_unit_id).order_by(c.create_time, c.id).limit(limit)
        if not show_revoked:
            query = query.where(c.state != CredentialState.REVOKED.value)
        if after is not None:
            query = query.where(tuple_(c.create_time, c.id) > (datetime.fromisoformat(after[0]), after[1]))
        return [_credential(r) for r in (await self._s.execute(query)).all()]

    async def update(self, credential: Credential) -> None:
        await self._s.execute(
            update(credentials).where(credentials.c.id == credential.id).values(**self._values(credential))
        )

    async def secrets(self, credential_id: str) -> SealedSecrets | None:
        row = (
            await self._s.execute(
                select(credentials.c.secret_ciphertext, credentials.c.key_id).where(credentials.c.id == credential_id)
            )
        ).first()
        if row is None or row.secret_ciphertext is None:
            return None
        body = json.loads(self._keys.open(row.key_id, row.secret_ciphertext, f"credentials:{credential_id}"))
        return SealedSecrets(CredentialSecrets(**body), stale_key=row.key_id != self._keys.current_kid)

    async def store_secrets(self, credential_id: str, secrets: CredentialSecrets) -> None:
        kid, sealed = self._seal(credential_id, secrets)
        await self._s.execute(
            update(credentials).where(credentials.c.id == credential_id).values(secret_ciphertext=sealed, key_id=kid)
        )

    async def wipe_secrets(self, credential_id: str) -> None:
        await self._s.execute(
            update(credentials).where(credentials.c.id == credential_id).values(secret_ciphertext=None, key_id=None)
        )

    async def try_lease(self, credential_id: str, holder: str, now: datetime, until: datetime) -> bool:
        c = credentials.c
        result = await self._s.execute(
            update(credentials)
            .where(c.id == credential_id, or_(c.lease_until.is_(None), c.lease_until < now, c.lease_holder == holder))
            .values(lease_holder=holder, lease_until=until)
        )
        return _rowcount(result) == 1

    async def release_lease(self, credential_id: str, holder: str) -> None:
        c = credentials.c
        await self._s.execute(
            update(credentials)
            .where(c.id == credential_id, c.lease_holder == holder)
            .values(lease_holder=None, lease_until=None)
        )

    async def set_revocation_pending(self, credential_id: str, pending: bool) -> None:
        await self._s.execute(
            update(credentials).where(credentials.c.id == credential_id).values(revocation_pending=pending)
        )

    async def pending_revocations(self, limit: int) -> list[str]:
        c = credentials.c
        query = select(c.id).where(c.revocation_pending == true()).order_by(c.revoke_time).limit(limit)
        return list((await self._s.scalars(query)).all())

    async def stale_key_ids(self, limit: int) -> list[str]:
        c = credentials.c
        query = select(c.id).where(c.key_id.is_not(None), c.key_id != self._keys.current_kid).limit(limit)
        return list((await self._s.scalars(query)).all())


class SqlConfirmations:
    def __init__(self, session: AsyncSession) -> None:
        self._s = session

    async def add(self, confirmation: Confirmation, token_hash: str) -> None:
        c = confirmation
        await self._s.execute(
            insert(confirmations).values(
                id=c.id, org_unit_id=c.org_unit_id, email=c.email, token_hash=token_hash,
                request_id=c.request_id or None, create_time=c.create_time, expire_time=c.expire_time,
                confirm_time=c.confirm_time, valid_until=c.valid_until,
            )
        )  # fmt: skip

    async def by_token_hash(self, token_hash: str) -> tuple[Confirmation, str] | None:
        row = (await self._s.execute(select(confirmations).where(confirmations.c.token_hash == token_hash))).first()
        return (_confirmation(row), row.token_hash) if row else None

    async def by_request_id(self, org_unit_id: str, request_id: str) -> Confirmation | None:
        c = confirmations.c
        row = (
            await self._s.execute(select(confirmations).where(c.org_unit_id == org_unit_id, c.request_id == request_id))
        ).first()
        return _confirmation(row) if row else None

    async def delete(self, confirmation_id: str) -> None:
        await self._s.execute(delete(confirmations).where(confirmations.c.id == confirmation_id))

    async def confirm(self, confirmation: Confirmation) -> bool:
        c = confirmations.c
        result = await self._s.execute(
            update(confirmations)
            .where(c.id == confirmation.id, c.confirm_time.is_(None))
            .values(confirm_time=confirmation.confirm_time, valid_until=confirmation.valid_until)
        )
        return _rowcount(result) == 1

    async def confirmed_until(self, org_unit_id: str, email: str, now: datetime) -> datetime | None:
        c = confirmations.c
        query = select(func.max(c.valid_until)).where(
            and_(c.org_unit_id == org_unit_id, c.email == email, c.valid_until > now)
        )
        return _aware((await self._s.execute(query)).scalar())

    async def sent_since(self, org_unit_id: str, email: str, since: datetime) -> int:
        c = confirmations.c
        query = select(func.count()).where(c.org_unit_id == org_unit_id, c.email == email, c.create_time >= since)
        return int((await self._s.execute(query)).scalar() or 0)


class IdentityUnitOfWork(SqlUnitOfWork):
    authorizations: Authorizations
    credentials: Credentials
    confirmations: Confirmations

    def __init__(self, sessions: async_sessionmaker[AsyncSession], keys: Keyring) -> None:
        super().__init__(sessions)
        self._keys = keys

    def _open(self, session: AsyncSession) -> None:
        self.authorizations = SqlAuthorizations(session, self._keys)
        self.credentials = SqlCredentials(session, self._keys)
        self.confirmations = SqlConfirmations(session)

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc_val: BaseException | None, tb: TracebackType | None
    ) -> None:
        await super().__aexit__(exc_type, exc_val, tb)
        if isinstance(exc_val, exc.IntegrityError):  # Core statements fail at execute, not at flush
            raise self._integrity_error(exc_val) from exc_val

    def _integrity_error(self, error: Any) -> Exception:
        name = constraint_name(error)
        if name.endswith("_request_id"):
            return AlreadyExists(
                "a request with this request_id is being processed; retry", reason="REQUEST_ID_CONFLICT"
            )
        return super()._integrity_error(error)
