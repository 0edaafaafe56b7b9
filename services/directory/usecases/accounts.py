"""Accounts made by hand, reading and listing accounts and rooms.

Rules: CreateAccount is for units without a directory: the email's domain must be served by a
non-disconnected calendar connection of the unit (else FAILED_PRECONDITION, EMAIL_DOMAIN_NOT_SERVED),
and an email is unique among the unit's accounts (a unique constraint; ALREADY_EXISTS,
ACCOUNT_ALREADY_EXISTS). Another unit's account is NOT_FOUND, exactly like an unknown one.
"""

from __future__ import annotations

from kit.clock import Clock, IdGenerator
from kit.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound, Validator
from kit.paging import Page, next_page_token, page_request
from kit.validation import email_domain, is_time_zone
from services.directory.domain.model import MAX_ACCOUNT_NAME, Account, AccountSource, AccountState, Room
from services.directory.domain.validation import check_email, check_id, check_request_id
from services.directory.ports import UnitOfWorkFactory
from services.directory.usecases.common import check_unit_and_id, require_unit


class AccountsUseCases:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, ids: IdGenerator) -> None:
        self._uow = uow
        self._clock = clock
        self._ids = ids

    async def create(self, unit_id: str, email: str, display_name: str, time_zone: str, request_id: str) -> Account:
        """An ACTIVE MANUAL account; the same request_id returns the account first made with it."""
        v = Validator()
        check_id(v, unit_id, "org_unit_id")
        email = check_email(v, email)
        name = display_name.strip()
        v.check(len(name) <= MAX_ACCOUNT_NAME, "display_name", f"must be at most {MAX_ACCOUNT_NAME} characters")
        check_request_id(v, request_id)
        v.raise_if_any()
        if time_zone and not is_time_zone(time_zone):
            raise InvalidArgument.field("time_zone", f"{time_zone!r} is not an IANA time zone", reason="TIME_ZONE_UNKNOWN")
        async with self._uow() as uow:
            await require_unit(uow, unit_id)
            if request_id:
                earlier = await uow.accounts.by_request_id(unit_id, request_id)
                if earlier is not None:
                    if (earlier.email, earlier.display_name, earlier.time_zone) != (email, name, time_zone):
                        raise AlreadyExists("request_id was already used for a different account",
                                            reason="REQUEST_ID_CONFLICT", metadata={"request_id": request_id})  # fmt: skip
                    return earlier
            domain = email_domain(email)
            if await uow.calendars.serving(unit_id, domain) is None:
                raise FailedPrecondition(
                    f"no calendar connection of this unit serves {domain}",
                    reason="EMAIL_DOMAIN_NOT_SERVED",
                    metadata={"email": email, "domain": domain},
                )
            existing = await uow.accounts.with_email(unit_id, email)
            if existing is not None:
                raise AlreadyExists(f"an account with {email} already exists", reason="ACCOUNT_ALREADY_EXISTS",
                                    metadata={"email": email, "account_id": existing.id})  # fmt: skip
            now = self._clock.now()
            account = Account(
                id=self._ids.new_id(), org_unit_id=unit_id, email=email, display_name=name, time_zone=time_zone,
                state=AccountState.ACTIVE, source=AccountSource.MANUAL, external_id="", directory_connection_id="",
                create_time=now, update_time=now, deactivate_time=None, request_id=request_id,
            )  # fmt: skip
            await uow.accounts.add(account)
            await uow.commit()
        return account

    async def get(self, unit_id: str, account_id: str) -> Account:
        check_unit_and_id(unit_id, account_id, "account_id")
        async with self._uow() as uow:
            account = await uow.accounts.get(unit_id, account_id)
        if account is None:
            raise NotFound(f"account {account_id!r} does not exist in this unit", reason="ACCOUNT_NOT_FOUND",
                           metadata={"account_id": account_id})  # fmt: skip
        return account

    async def list(self, unit_id: str, state: AccountState | None, connection_id: str, page_size: int,
                   page_token: str) -> Page[Account]:  # fmt: skip
        """Ordered by email."""
        v = Validator()
        check_id(v, unit_id, "org_unit_id")
        v.check(len(connection_id) <= 64, "directory_connection_id", "must be at most 64 characters")
        v.raise_if_any()
        query = f"accounts:{unit_id}:{state}:{connection_id}"
        page = page_request(page_size, page_token, default=100, maximum=1000, query=query)
        async with self._uow() as uow:
            await require_unit(uow, unit_id)
            items = await uow.accounts.list(unit_id, state, connection_id, page.after, page.size + 1)
        more = len(items) > page.size
        items = items[: page.size]
        return Page(items, next_page_token(items[-1].email, query=query) if more else "")

    async def list_rooms(self, unit_id: str, page_size: int, page_token: str) -> Page[Room]:
        """Ordered by email, each with the calendar connection serving its domain."""
        v = Validator()
        check_id(v, unit_id, "org_unit_id")
        v.raise_if_any()
        query = f"rooms:{unit_id}"
        page = page_request(page_size, page_token, default=100, maximum=1000, query=query)
        async with self._uow() as uow:
            await require_unit(uow, unit_id)
            items = await uow.rooms.list(unit_id, page.after, page.size + 1)
        more = len(items) > page.size
        items = items[: page.size]
        return Page(items, next_page_token(items[-1].email, query=query) if more else "")
