"""Directory domain model: organizational units (more resources join as they are built)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from kit.errors import Validator
from kit.validation import is_email, normalize_email

MAX_DISPLAY_NAME = 200


@dataclass(frozen=True)
class OrganizationalUnit:
    """A customer organization (or part of one) whose services are connected to Rendezvous.

    ``invite_sender_address`` is the mailbox emailed invites come from and replies go to; its
    domain is the unit's choice (a subdomain of theirs whose mail reaches Rendezvous).
    """

    id: str
    display_name: str
    invite_sender_address: str
    create_time: datetime
    update_time: datetime
    request_id: str = ""

    def renamed(self, display_name: str, at: datetime) -> OrganizationalUnit:
        return replace(self, display_name=display_name, update_time=at)

    def with_sender(self, address: str, at: datetime) -> OrganizationalUnit:
        return replace(self, invite_sender_address=address, update_time=at)


def check_display_name(v: Validator, value: str, field: str = "display_name") -> str:
    value = value.strip()
    v.check(bool(value), field, "is required")
    v.check(len(value) <= MAX_DISPLAY_NAME, field, f"must be at most {MAX_DISPLAY_NAME} characters")
    return value


def check_sender(v: Validator, value: str, field: str = "invite_sender_address") -> str:
    value = normalize_email(value)
    v.check(is_email(value), field, "must be an email address such as invites@scheduling.example.com")
    return value
