"""Directory sync rules: what one page of directory users changes, and when offboarding may happen.

The rules (the use case streams pages through :func:`plan_page` and ends with :func:`decide_offboarding`):

* A user is matched to an account by the directory's stable id, never by email, so a rename updates
  the account. An unmatched active user in scope gets a new ACTIVE account; an account with the same
  email that was made by hand, or that this connection deactivated earlier, is adopted instead.
* In scope means: a valid email whose domain is one of the connection's domains (and, where the
  directory lists them, one of its verified domains).
* Onboarding, renames and reactivations apply page by page. Offboarding (a user reported suspended,
  disabled or deleted, moved out of scope, or — after a full listing — no longer listed) is only
  collected, and applied after the read completed, unless it would take more than the connection's
  ``max_deactivation_ratio`` of its ACTIVE accounts out of ACTIVE and the run is not forced.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from kit.validation import email_domain, is_email, normalize_email
from services.directory.domain.model import (
    MAX_ACCOUNT_NAME,
    Account,
    AccountSource,
    AccountState,
    DirectoryConnection,
)

MAX_REPORTED_ERRORS = 100


class UserStatus(StrEnum):
    """What the directory says about a user."""

    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"  # suspended, disabled, archived, inactive
    DELETED = "DELETED"  # deleted (a delta feed's @removed), or a status meaning gone


@dataclass(frozen=True, slots=True)
class DirectoryUser:
    """One user as a directory listed it, already reduced to what sync needs."""

    external_id: str
    email: str
    display_name: str
    status: UserStatus


@dataclass(frozen=True, slots=True)
class DirectoryRoom:
    external_id: str
    email: str
    display_name: str
    capacity: int
    building: str
    floor_number: int | None


class SyncState(StrEnum):
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    SAFETY_STOPPED = "SAFETY_STOPPED"
    FAILED = "FAILED"


class SyncTrigger(StrEnum):
    SCHEDULED = "SCHEDULED"
    MANUAL = "MANUAL"
    CONNECTED = "CONNECTED"


@dataclass(frozen=True)
class SyncError:
    external_id: str
    email: str
    message: str


@dataclass(frozen=True)
class SyncRun:
    """One run of a directory connection and what it read and changed."""

    id: str
    org_unit_id: str
    directory_connection_id: str
    state: SyncState
    trigger: SyncTrigger
    incremental: bool
    forced: bool
    full_requested: bool
    start_time: datetime
    create_time: datetime
    update_time: datetime
    end_time: datetime | None = None
    listed_count: int = 0
    created_count: int = 0
    updated_count: int = 0
    deactivated_count: int = 0
    unchanged_count: int = 0
    would_deactivate_count: int = 0
    error_count: int = 0
    errors: tuple[SyncError, ...] = ()
    stopped_at: str = ""
    failure_reason: str = ""
    failure_message: str = ""
    request_id: str = ""

    @property
    def running(self) -> bool:
        return self.state is SyncState.RUNNING

    def counted(self, plan: PagePlan, listed: int) -> SyncRun:
        """The run after one applied page."""
        room = MAX_REPORTED_ERRORS - len(self.errors)
        return replace(
            self,
            listed_count=self.listed_count + listed,
            created_count=self.created_count + len(plan.creates),
            updated_count=self.updated_count + plan.updated,
            unchanged_count=self.unchanged_count + plan.unchanged,
            error_count=self.error_count + len(plan.errors),
            errors=self.errors + tuple(plan.errors[: max(room, 0)]),
        )

    def ended(self, state: SyncState, at: datetime, *, reason: str = "", message: str = "",
              stopped_at: str = "") -> SyncRun:  # fmt: skip
        return replace(self, state=state, end_time=at, update_time=at, failure_reason=reason,
                       failure_message=message, stopped_at=stopped_at)  # fmt: skip


@dataclass(frozen=True)
class Scope:
    """Which emails a connection onboards."""

    domains: frozenset[str]

    def covers(self, email: str) -> bool:
        return bool(email) and is_email(email) and email_domain(email) in self.domains


@dataclass(frozen=True, slots=True)
class Offboarding:
    """An account offboarding wants to move from ``current`` to ``target`` once the read is complete."""

    current: AccountState
    target: AccountState

    @property
    def leaves_active(self) -> bool:
        return self.current is AccountState.ACTIVE


@dataclass
class PagePlan:
    """What one page changes now, and the offboarding it asks for once the read is complete."""

    creates: list[Account] = field(default_factory=list)
    updates: list[Account] = field(default_factory=list)
    offboard: dict[str, Offboarding] = field(default_factory=dict)
    errors: list[SyncError] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # accounts whose user is in scope (not offboarded by it)
    unchanged: int = 0

    @property
    def updated(self) -> int:
        return len(self.updates)

    def accounted_for(self) -> list[str]:
        """Every account this page matched to a listed user (kept, offboarded or new)."""
        return [*self.kept, *self.offboard, *(a.id for a in self.creates)]


def plan_page(
    users: Iterable[DirectoryUser],
    connection: DirectoryConnection,
    scope: Scope,
    by_external_id: Mapping[str, Account],
    by_email: Mapping[str, Account],
    now: datetime,
    new_id: Callable[[], str],
) -> PagePlan:
    """Compare one page of users with the accounts they match (by external id, and by email for
    users without one) and say what to write. ``by_email`` holds the unit's accounts with the page's
    emails."""
    plan = PagePlan()
    claimed: dict[str, str] = {}  # email -> external id that takes it in this page
    latest = {u.external_id: u for u in users}  # a change feed may list a user twice: the last entry wins
    touched: set[str] = set()  # accounts already planned (matched by id, or adopted by email)
    for user in latest.values():
        email = normalize_email(user.email)
        existing = by_external_id.get(user.external_id)
        if existing is not None and _unchanged(existing, user, email, scope):
            plan.kept.append(existing.id)
            plan.unchanged += 1
            touched.add(existing.id)
            claimed[email] = user.external_id
            continue
        if user.status is UserStatus.DELETED or not scope.covers(email):
            if user.status is not UserStatus.DELETED and email and not is_email(email):
                plan.errors.append(SyncError(user.external_id, user.email, "the email is not a valid address"))
            if existing is not None and existing.state is not AccountState.DEACTIVATED:
                plan.offboard[existing.id] = Offboarding(existing.state, AccountState.DEACTIVATED)
            elif existing is not None:
                plan.unchanged += 1
            continue
        if email in claimed and claimed[email] != user.external_id:
            plan.errors.append(SyncError(user.external_id, email, "another user of this listing has the same email"))
            continue
        claimed[email] = user.external_id
        adopted = existing is None
        if existing is None:
            existing = _adoptable(by_email.get(email), connection, user, plan)
            if existing is None:
                if user.status is UserStatus.ACTIVE and email not in by_email:
                    plan.creates.append(_new_account(user, email, connection, now, new_id()))
                continue
        if existing.id in touched:
            plan.errors.append(SyncError(user.external_id, email, f"account {existing.id} is claimed by another user of this listing"))
            continue
        touched.add(existing.id)
        if adopted:
            existing = replace(existing, external_id=user.external_id, directory_connection_id=connection.id,
                               source=connection.source)  # fmt: skip
        _plan_existing(plan, existing, user, email, by_email, connection, now, adopted)
    return plan


def _unchanged(account: Account, user: DirectoryUser, email: str, scope: Scope) -> bool:
    """The common case, decided cheaply: an ACTIVE user whose account already says all of it (its
    stored email was checked when it was stored, so only the domain needs looking at)."""
    return (
        user.status is UserStatus.ACTIVE
        and account.state is AccountState.ACTIVE
        and account.email == email
        and email.rpartition("@")[2] in scope.domains
        and (not user.display_name or account.display_name == user.display_name.strip()[:MAX_ACCOUNT_NAME])
    )


def _adoptable(clash: Account | None, connection: DirectoryConnection, user: DirectoryUser,
               plan: PagePlan) -> Account | None:  # fmt: skip
    """The account with the user's email this user may take over, or None (clashes are reported)."""
    if clash is None:
        return None
    if clash.source is AccountSource.MANUAL:
        return clash
    if clash.directory_connection_id == connection.id and clash.state is AccountState.DEACTIVATED:
        return clash
    if user.status is UserStatus.ACTIVE:
        plan.errors.append(SyncError(user.external_id, user.email, f"the email is already used by account {clash.id}"))
    return None


def _plan_existing(plan: PagePlan, account: Account, user: DirectoryUser, email: str,
                   by_email: Mapping[str, Account], connection: DirectoryConnection, now: datetime,
                   adopted: bool) -> None:  # fmt: skip
    changed = account
    if email != account.email:
        clash = by_email.get(email)
        if clash is not None and clash.id != account.id:
            plan.errors.append(SyncError(user.external_id, email, f"the new email is already used by account {clash.id}"))
        else:
            changed = replace(changed, email=email)
    name = user.display_name.strip()[:MAX_ACCOUNT_NAME]
    if name and name != account.display_name:
        changed = replace(changed, display_name=name)
    if user.status is UserStatus.ACTIVE and account.state is not AccountState.ACTIVE:
        changed = replace(changed, state=AccountState.ACTIVE, deactivate_time=None)
    elif user.status is UserStatus.SUSPENDED:
        if account.state is AccountState.ACTIVE:
            plan.offboard[account.id] = Offboarding(account.state, AccountState.SUSPENDED)
        elif account.state is AccountState.DEACTIVATED:
            changed = replace(changed, state=AccountState.SUSPENDED, deactivate_time=None)
    if account.id not in plan.offboard:
        plan.kept.append(account.id)
    if changed != account or adopted:
        plan.updates.append(replace(changed, update_time=now))
    elif account.id not in plan.offboard:
        plan.unchanged += 1


def _new_account(user: DirectoryUser, email: str, connection: DirectoryConnection, now: datetime,
                 account_id: str) -> Account:  # fmt: skip
    return Account(
        id=account_id,
        org_unit_id=connection.org_unit_id,
        email=email,
        display_name=user.display_name.strip()[:MAX_ACCOUNT_NAME],
        time_zone="",
        state=AccountState.ACTIVE,
        source=connection.source,
        external_id=user.external_id,
        directory_connection_id=connection.id,
        create_time=now,
        update_time=now,
        deactivate_time=None,
    )


@dataclass(frozen=True)
class OffboardingDecision:
    """Whether the collected offboarding may be applied, and the safety figure."""

    allowed: bool
    would_deactivate: int
    message: str


def decide_offboarding(
    targets: Mapping[str, Offboarding], active_before: int, ratio: float, forced: bool
) -> OffboardingDecision:
    """The safety figure counts accounts offboarding takes out of ACTIVE (deactivated or suspended),
    against the ACTIVE accounts the connection had when the run started; beyond ``ratio`` of them
    nothing is offboarded unless ``forced``."""
    leaving = sum(1 for change in targets.values() if change.leaves_active)
    if forced or leaving == 0 or leaving <= ratio * active_before:
        return OffboardingDecision(True, leaving, "")
    share = leaving / active_before * 100 if active_before else 100.0
    return OffboardingDecision(
        False,
        leaving,
        f"the run would take {leaving} of {active_before} active accounts out of ACTIVE ({share:.1f}%), "
        f"more than the {ratio * 100:.1f}% allowed; nothing was offboarded. Rerun with force to apply it.",
    )
