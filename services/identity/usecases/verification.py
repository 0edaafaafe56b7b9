"""VerifyOrganizer, SendConfirmationLink and ConfirmEmail.

Business rules (see :mod:`services.identity.domain.verification` for the decision itself):

- Directory's ResolveAccount says which calendar connection serves the email's domain and whether
  an account has the email. No connection → not verified (EMAIL_DOMAIN_NOT_SERVED), and no
  confirmation link is sent for such an email (FAILED_PRECONDITION).
- READ_WRITE / FREE_BUSY: the provider is asked with the connection's credential whether it knows
  the mailbox (Google free/busy answers without ``notFound``; Graph getSchedule without a
  per-schedule error); the credential's own user needs no call.
- A provider that cannot answer fails the RPC (UNAVAILABLE) unless another method verifies anyway.
- Confirmation links: a random nonce signed with HMAC; only the SHA-256 of the token is stored;
  compared in constant time; single use; expiring (24 hours by default); a followed link counts
  for 90 days by default. The message is handed to SMTP before anything is stored, so a refused
  message leaves nothing behind that claims it was sent (UNAVAILABLE, MAIL_DELIVERY_FAILED).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from kit.clock import Clock, IdGenerator
from kit.errors import (
    AlreadyExists,
    FailedPrecondition,
    NotFound,
    RendezvousError,
    ResourceExhausted,
    Unavailable,
)
from kit.validation import email_domain
from services.identity.domain.model import Confirmation
from services.identity.domain.scopes import Provider
from services.identity.domain.secrets import link_payload, same_hash, secret_hash, split_link_token
from services.identity.domain.verification import (
    CalendarRoute,
    ConnectionState,
    MailboxCheck,
    Verification,
    decide,
)
from services.identity.ports import (
    DirectoryLookup,
    LinkSigner,
    Mailboxes,
    Mailer,
    SecretSource,
    UnitOfWorkFactory,
)
from services.identity.usecases.checks import Checks, invalid
from services.identity.usecases.tokens import TokenService

CALENDAR_PROVIDERS = (Provider.GOOGLE, Provider.MICROSOFT)


@dataclass(frozen=True)
class ConfirmationPolicy:
    public_url: str = "http://127.0.0.1:8054"
    link_ttl: timedelta = timedelta(hours=24)
    confirmation_validity: timedelta = timedelta(days=90)
    max_links_per_hour: int = 5


class VerificationUseCases:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        directory: DirectoryLookup,
        tokens: TokenService,
        mailboxes: Mailboxes,
        mailer: Mailer,
        signer: LinkSigner,
        secrets: SecretSource,
        clock: Clock,
        ids: IdGenerator,
        policy: ConfirmationPolicy | None = None,
    ) -> None:
        self._uow = uow
        self._directory = directory
        self._tokens = tokens
        self._mailboxes = mailboxes
        self._mailer = mailer
        self._signer = signer
        self._secrets = secrets
        self._clock = clock
        self._ids = ids
        self._policy = policy or ConfirmationPolicy()

    async def verify(self, org_unit_id: str, email: str) -> Verification:
        """Whether ``email`` may organize in the unit, and by which method."""
        v = Checks()
        v.required_id(org_unit_id, "org_unit_id")
        email = v.email(email)
        v.raise_if_any()
        resolution = await self._directory.resolve(org_unit_id, email)
        route = resolution.calendar
        mailbox, failure = MailboxCheck.NOT_APPLICABLE, None
        if (
            route is not None
            and route.state is ConnectionState.ACTIVE
            and route.reads_calendars
            and route.provider in CALENDAR_PROVIDERS
        ):
            mailbox, failure = await self._ask_provider(org_unit_id, route, email)
        confirmed_until = None
        if route is not None:
            async with self._uow() as uow:
                confirmed_until = await uow.confirmations.confirmed_until(org_unit_id, email, self._clock.now())
        outcome = decide(resolution, mailbox, confirmed_until)
        if not outcome.verified and failure is not None:
            raise failure  # the provider could not say, and nothing else decided
        return outcome

    async def _ask_provider(
        self, org_unit_id: str, route: CalendarRoute, email: str
    ) -> tuple[MailboxCheck, Unavailable | None]:
        assert route.provider is not None
        try:
            async with self._uow() as uow:
                credential = await uow.credentials.get(route.credential_id)
            if credential is None or credential.org_unit_id != org_unit_id:
                return MailboxCheck.CREDENTIAL_UNUSABLE, None
            if credential.subject_email and credential.subject_email.lower() == email:
                return MailboxCheck.CONFIRMED, None  # the user who authorized the calendar
            token = await self._tokens.get_access_token(org_unit_id, credential.id, "", timedelta(minutes=1))
            asking_as = credential.subject_id if not credential.organization_wide and credential.subject_id else email
            found = await self._mailboxes.exists(route.provider, token.access_token, asking_as=asking_as, email=email)
        except Unavailable as exc:
            return MailboxCheck.UNAVAILABLE, exc
        except (FailedPrecondition, NotFound):
            return MailboxCheck.CREDENTIAL_UNUSABLE, None
        return (MailboxCheck.CONFIRMED if found else MailboxCheck.NOT_FOUND), None

    async def send_confirmation_link(self, org_unit_id: str, email: str, request_id: str) -> datetime:
        """Mail a confirmation link; the instant it stops working."""
        v = Checks()
        v.required_id(org_unit_id, "org_unit_id")
        email = v.email(email)
        v.request_id(request_id)
        v.raise_if_any()
        now = self._clock.now()
        async with self._uow() as uow:
            if request_id:
                earlier = await uow.confirmations.by_request_id(org_unit_id, request_id)
                if earlier is not None:
                    if earlier.email != email:
                        raise AlreadyExists(
                            "request_id was already used for another email",
                            reason="REQUEST_ID_CONFLICT",
                            metadata={"request_id": request_id},
                        )
                    return earlier.expire_time
            recent = await uow.confirmations.sent_since(org_unit_id, email, now - timedelta(hours=1))
        if recent >= self._policy.max_links_per_hour:
            raise ResourceExhausted(
                f"too many confirmation links were sent to {email} in the last hour",
                reason="CONFIRMATION_LINK_RATE_LIMITED",
                metadata={"email": email, "retry_after_seconds": "3600"},
            )
        resolution = await self._directory.resolve(org_unit_id, email)
        if resolution.calendar is None:
            raise FailedPrecondition(
                f"no calendar connection of the unit serves {email_domain(email)}",
                reason="EMAIL_DOMAIN_NOT_SERVED",
                metadata={"email": email, "domain": email_domain(email)},
            )
        nonce = self._secrets.token(32)
        token = f"{nonce}.{self._signer.sign(link_payload(nonce))}"
        confirmation = Confirmation(
            id=self._ids.new_id(),
            org_unit_id=org_unit_id,
            email=email,
            create_time=now,
            expire_time=now + self._policy.link_ttl,
            request_id=request_id,
        )
        await self._mailer.send(email, "Confirm your email address for Rendezvous", self._message(email, token))
        async with self._uow() as uow:
            await uow.confirmations.add(confirmation, secret_hash(token))
            await uow.commit()
        return confirmation.expire_time

    def _message(self, email: str, token: str) -> str:
        hours = int(self._policy.link_ttl.total_seconds() // 3600)
        link = f"{self._policy.public_url.rstrip('/')}/confirm?token={token}"
        return (
            f"Someone asked to confirm that {email} belongs to you, so that you can organize meetings "
            f"with Rendezvous.\n\nTo confirm, open this link within {hours} hours:\n\n{link}\n\n"
            "The link works once. If you did not ask for this, ignore this message.\n"
        )

    async def confirm(self, token: str) -> Confirmation:
        """Redeem a link token: INVALID (malformed, tampered, unknown), USED (twice) or EXPIRED (late)."""
        parts = split_link_token(token)
        if parts is None or not self._signer.verify(link_payload(parts[0]), parts[1]):
            raise _invalid_token()
        digest = secret_hash(token)
        now = self._clock.now()
        async with self._uow() as uow:
            found = await uow.confirmations.by_token_hash(digest)
            if found is None or not same_hash(found[1], digest):
                raise _invalid_token()
            confirmation = found[0]
            if confirmation.confirm_time is not None:
                raise _used()
            if now >= confirmation.expire_time:
                raise FailedPrecondition(
                    "the confirmation link expired; ask for a new one", reason="CONFIRMATION_TOKEN_EXPIRED"
                )
            confirmed = confirmation.confirmed(now, self._policy.confirmation_validity)
            if not await uow.confirmations.confirm(confirmed):
                raise _used()
            await uow.commit()
        return confirmed


def _invalid_token() -> RendezvousError:
    return invalid("token", "is not a valid confirmation token", reason="CONFIRMATION_TOKEN_INVALID")


def _used() -> RendezvousError:
    return FailedPrecondition("the confirmation link was already used", reason="CONFIRMATION_TOKEN_USED")
