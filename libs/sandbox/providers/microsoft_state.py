"""State of the Microsoft emulator: tenants, users (with a change log for ``/users/delta``), rooms,
calendar events and the per-mailbox free/busy index.

Users keep a prebuilt Graph representation (``MsUser.doc``) so listing 100,000 of them is a dict
copy per row. Every user change gets a sequence number in ``State.changes``; delta tokens are
positions in that log, so a delta link returns exactly the users changed since it was issued.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sandbox.core import OAuthClient
from sandbox.providers.microsoft_recurrence import expand
from sandbox.providers.microsoft_schedule import Busy, MailboxSchedule
from sandbox.providers.microsoft_time import iso_utc, parse_graph_datetime, resolve_zone

#: Properties a user has in Graph, in the order Graph prints them.
USER_PROPS = (
    "id", "businessPhones", "displayName", "givenName", "jobTitle", "mail", "mobilePhone",
    "officeLocation", "preferredLanguage", "surname", "userPrincipalName", "accountEnabled",
    "userType", "department", "employeeId", "createdDateTime", "proxyAddresses", "usageLocation",
)  # fmt: skip
#: What ``GET /users`` returns without ``$select``.
DEFAULT_USER_PROPS = USER_PROPS[:11]
#: What ``User.ReadBasic.All`` may read; other selected properties come back null.
BASIC_USER_PROPS = frozenset(
    {"id", "displayName", "givenName", "surname", "mail", "userPrincipalName", "businessPhones"}
)
DEFAULT_WORKING_HOURS = {
    "daysOfWeek": ["monday", "tuesday", "wednesday", "thursday", "friday"],
    "startTime": "08:00:00.0000000",
    "endTime": "17:00:00.0000000",
}

#: Module clock for changes made outside a request (admin ``update_user``); setup() points it at the sandbox clock.
CLOCK: list[Callable[[], float]] = [time.time]


def now() -> float:
    """The sandbox clock as known to this module."""
    return CLOCK[0]()


@dataclass
class Tenant:
    """An Entra tenant: its directory, its consents and its Teams policy."""

    id: str
    display_name: str
    domains: list[dict[str, Any]]
    app_consents: dict[str, set[str]] = field(default_factory=dict)
    delegated_consents: dict[str, set[str]] = field(default_factory=dict)
    access_policy: set[str] = field(default_factory=set)
    users: list[MsUser] = field(default_factory=list)
    rooms: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def domain_names(self) -> set[str]:
        """Every verified domain, lower-case."""
        return {str(d["name"]).lower() for d in self.domains}


@dataclass
class MsUser:
    """A directory user and mailbox owner."""

    doc: dict[str, Any]
    tenant: str
    is_admin: bool = False
    mailbox: dict[str, Any] = field(default_factory=dict)
    version: int = 0
    removed: str = ""

    @property
    def id(self) -> str:
        """Object id (== ``oid`` claim)."""
        return str(self.doc["id"])

    @property
    def address(self) -> str:
        """The SMTP address used for mail and free/busy (mail, else UPN)."""
        return str(self.doc.get("mail") or self.doc["userPrincipalName"])


@dataclass
class MsEvent:
    """A calendar event in one mailbox (``owner`` is a user or room id)."""

    id: str
    owner: str
    tenant: str
    data: dict[str, Any]
    start: float
    end: float
    ical_uid: str
    created: float
    modified: float
    change_key: str
    via_api: bool = False
    occurrences: list[tuple[float, float]] = field(default_factory=list)


@dataclass
class State:
    """Everything the Microsoft emulator knows."""

    clients: dict[str, OAuthClient] = field(default_factory=dict)
    tenants: dict[str, Tenant] = field(default_factory=dict)
    users: dict[str, MsUser] = field(default_factory=dict)
    rooms: dict[str, dict[str, Any]] = field(default_factory=dict)
    addresses: dict[str, tuple[str, str]] = field(default_factory=dict)
    events: dict[str, MsEvent] = field(default_factory=dict)
    mailbox_events: dict[str, set[str]] = field(default_factory=dict)
    schedules: dict[str, MailboxSchedule] = field(default_factory=dict)
    transactions: dict[tuple[str, str], str] = field(default_factory=dict)
    online_meetings: list[dict[str, Any]] = field(default_factory=list)
    changes: list[tuple[int, str, str, frozenset[str] | None]] = field(default_factory=list)
    seq: int = 0
    epoch: str = field(default_factory=lambda: secrets.token_hex(4))
    delta_floor: float = 0.0
    settings: dict[str, Any] = field(default_factory=lambda: {"refresh_rotation": "keep-old"})
    redeemed_codes: set[str] = field(default_factory=set)

    # ------------------------------------------------------------------------------------ lookups
    def tenant_of(self, key: str | None) -> Tenant | None:
        """A tenant by GUID or by one of its verified domains."""
        if not key:
            return None
        found = self.tenants.get(key.lower())
        if found is not None:
            return found
        for tenant in self.tenants.values():
            if key.lower() in tenant.domain_names():
                return tenant
        return None

    def user(self, key: str, tenant: str | None = None) -> MsUser | None:
        """A live user by object id, UPN or SMTP address (within ``tenant`` when given)."""
        found = self.users.get(key) or self.users.get(key.lower())
        if found is None:
            kind, ident = self.addresses.get(key.lower(), ("", ""))
            found = self.users.get(ident) if kind == "user" else None
        if found is None or found.removed or (tenant and found.tenant != tenant):
            return None
        return found

    def mailbox(self, address: str, tenant: str | None) -> tuple[str, str, dict[str, Any]] | None:
        """``(kind, id, settings)`` of a user or room mailbox by address, within ``tenant``."""
        kind, ident = self.addresses.get(address.lower(), ("", ""))
        if kind == "user":
            user = self.users.get(ident)
            if user is None or user.removed or (tenant and user.tenant != tenant):
                return None
            return "user", ident, user.mailbox
        if kind == "room":
            room = self.rooms[ident]
            if tenant and room["_tenant"] != tenant:
                return None
            return "room", ident, room.get("_mailbox", {})
        return None

    # ------------------------------------------------------------------------------------ changes
    def record_change(self, user: MsUser, props: Iterable[str] | None) -> None:
        """Give ``user`` a new version and log the change (``props=None``: the whole object)."""
        self.seq += 1
        user.version = self.seq
        self.changes.append((self.seq, user.tenant, user.id, None if props is None else frozenset(props)))

    def add_user(self, data: dict[str, Any], tenant: str, created: float | None = None) -> MsUser:
        """Create a user from fixture-style data (Graph property names plus ``isAdmin``/``mailboxSettings``)."""
        doc = {p: data.get(p) for p in USER_PROPS}
        doc["id"] = str(data.get("id") or uuid.uuid4())
        doc["businessPhones"] = list(data.get("businessPhones") or [])
        doc["accountEnabled"] = bool(data.get("accountEnabled", True))
        doc["userType"] = data.get("userType") or "Member"
        doc["proxyAddresses"] = list(data.get("proxyAddresses") or [])
        doc["createdDateTime"] = data.get("createdDateTime") or iso_utc(created or now()).replace(".0000000", "")
        if not doc.get("displayName"):
            doc["displayName"] = " ".join(p for p in (data.get("givenName"), data.get("surname")) if p) or None
        user = MsUser(
            doc=doc,
            tenant=tenant,
            is_admin=bool(data.get("isAdmin", False)),
            mailbox=dict(data.get("mailboxSettings") or {}),
        )
        self.users[user.id] = user
        self.tenants[tenant].users.append(user)
        self._index_addresses(user)
        self.record_change(user, None)
        return user

    def _index_addresses(self, user: MsUser) -> None:
        for addr in self._addresses_of(user):
            self.addresses[addr] = ("user", user.id)

    @staticmethod
    def _addresses_of(user: MsUser) -> set[str]:
        out = {str(user.doc["userPrincipalName"]).lower()}
        if user.doc.get("mail"):
            out.add(str(user.doc["mail"]).lower())
        for proxy in user.doc.get("proxyAddresses") or []:
            out.add(str(proxy).split(":", 1)[-1].lower())
        return out

    def update_user(self, user: MsUser, fields: dict[str, Any]) -> None:
        """Apply an admin change: Graph properties, ``deleted`` (True/"soft" or "permanent"), ``isAdmin``."""
        deleted = fields.get("deleted")
        if deleted:
            self.remove_user(user, "deleted" if deleted == "permanent" else "changed")
            return
        for addr in self._addresses_of(user):
            self.addresses.pop(addr, None)
        changed = []
        for key, value in fields.items():
            if key == "isAdmin":
                user.is_admin = bool(value)
            elif key == "mailboxSettings":
                user.mailbox.update(value)
                self.schedules.pop(user.id, None)
            elif key in USER_PROPS and key != "id":
                user.doc[key] = value
                changed.append(key)
        self._index_addresses(user)
        if changed:
            self.record_change(user, changed)

    def remove_user(self, user: MsUser, reason: str) -> None:
        """Delete a user (``changed``: soft, restorable; ``deleted``: permanent)."""
        user.removed = reason
        tenant = self.tenants[user.tenant]
        tenant.users = [u for u in tenant.users if u is not user]
        for addr in self._addresses_of(user):
            if self.addresses.get(addr) == ("user", user.id):
                del self.addresses[addr]
        self.record_change(user, None)

    # ------------------------------------------------------------------------------------- rooms
    def add_room(self, data: dict[str, Any], tenant: str) -> dict[str, Any]:
        """A room place (Graph ``microsoft.graph.room`` properties) with its mailbox."""
        room = {
            "@odata.type": "#microsoft.graph.room",
            "id": str(data.get("id") or uuid.uuid4()),
            "emailAddress": data["emailAddress"],
            "displayName": data.get("displayName") or data["emailAddress"],
            "address": data.get("address"),
            "geoCoordinates": data.get("geoCoordinates"),
            "phone": data.get("phone"),
            "nickname": data.get("nickname") or data.get("displayName"),
            "label": data.get("label"),
            "capacity": data.get("capacity"),
            "building": data.get("building"),
            "floorLabel": data.get("floorLabel"),
            "floorNumber": data.get("floorNumber"),
            "isWheelchairAccessible": bool(data.get("isWheelchairAccessible", False)),
            "bookingType": data.get("bookingType", "standard"),
            "tags": list(data.get("tags") or []),
            "audioDeviceName": data.get("audioDeviceName"),
            "videoDeviceName": data.get("videoDeviceName"),
            "displayDeviceName": data.get("displayDeviceName"),
            "_tenant": tenant,
            "_mailbox": dict(data.get("mailboxSettings") or {"timeZone": "UTC"}),
        }
        self.rooms[room["id"]] = room
        self.tenants[tenant].rooms.append(room)
        self.addresses[str(room["emailAddress"]).lower()] = ("room", room["id"])
        return room

    # ------------------------------------------------------------------------------------ events
    def put_event(self, event: MsEvent) -> None:
        """Store ``event`` (replacing the stored one with its id): expand it, refresh the mailboxes it touches.

        Callers replace events with a new object (``dataclasses.replace``) so the old attendee set is known.
        """
        old = self.events.get(event.id)
        if old is not None:
            for mailbox in self._mailboxes_of(old):
                self.mailbox_events.get(mailbox, set()).discard(event.id)
                self.schedules.pop(mailbox, None)
        event.occurrences = occurrences(event)
        self.events[event.id] = event
        for mailbox in self._mailboxes_of(event):
            self.mailbox_events.setdefault(mailbox, set()).add(event.id)
            self.schedules.pop(mailbox, None)

    def delete_event(self, event: MsEvent) -> None:
        """Remove ``event`` from its mailbox and from attendees' calendars."""
        self.events.pop(event.id, None)
        for mailbox in self._mailboxes_of(event):
            self.mailbox_events.get(mailbox, set()).discard(event.id)
            self.schedules.pop(mailbox, None)
        tx = event.data.get("transactionId")
        if tx:
            self.transactions.pop((event.owner, tx), None)

    def _mailboxes_of(self, event: MsEvent) -> set[str]:
        out = {event.owner}
        for attendee in event.data.get("attendees") or []:
            found = self.mailbox(_attendee_address(attendee), event.tenant)
            if found is not None and _attendee_response(attendee) != "declined":
                out.add(found[1])
        return out

    def schedule(self, mailbox: str) -> MailboxSchedule:
        """The (cached) free/busy index of a mailbox."""
        cached = self.schedules.get(mailbox)
        if cached is None:
            items: list[Busy] = []
            for event_id in self.mailbox_events.get(mailbox, ()):
                event = self.events.get(event_id)
                if event is not None:
                    items.extend(self._busy_items(event, mailbox))
            cached = self.schedules[mailbox] = MailboxSchedule.build(items)
        return cached

    def _busy_items(self, event: MsEvent, mailbox: str) -> list[Busy]:
        data = event.data
        if data.get("isCancelled"):
            return []
        status = str(data.get("showAs") or "busy")
        if mailbox != event.owner:
            status = self._attendee_status(event, mailbox, status)
            if status == "":
                return []
        private = str(data.get("sensitivity") or "normal") in ("private", "confidential")
        location = (data.get("location") or {}).get("displayName")
        return [
            Busy(s, e, status, data.get("subject"), location, private, event.id) for s, e in event.occurrences
        ]

    def _attendee_status(self, event: MsEvent, mailbox: str, organizer_status: str) -> str:
        for attendee in event.data.get("attendees") or []:
            found = self.mailbox(_attendee_address(attendee), event.tenant)
            if found is None or found[1] != mailbox:
                continue
            response = _attendee_response(attendee)
            if response == "declined":
                return ""
            if found[0] == "room" or response == "accepted":
                return organizer_status
            return "tentative"
        return ""


def _attendee_address(attendee: dict[str, Any]) -> str:
    return str((attendee.get("emailAddress") or {}).get("address") or "")


def _attendee_response(attendee: dict[str, Any]) -> str:
    return str((attendee.get("status") or {}).get("response") or "none")


def occurrences(event: MsEvent) -> list[tuple[float, float]]:
    """Concrete ``(start, end)`` epoch pairs of an event (a series is expanded)."""
    recurrence = event.data.get("recurrence")
    if not recurrence:
        return [(event.start, event.end)]
    rng = recurrence.get("range") or {}
    zone_name = rng.get("recurrenceTimeZone") or (event.data.get("start") or {}).get("timeZone")
    zone = resolve_zone(zone_name) or UTC
    cancelled = frozenset(date.fromisoformat(d[:10]) for d in event.data.get("cancelledOccurrences") or [])
    start = datetime.fromtimestamp(event.start, UTC)
    pairs = expand(start, timedelta(seconds=event.end - event.start), recurrence, zone, cancelled)
    return [(s.timestamp(), e.timestamp()) for s, e in pairs]


def event_from_data(state: State, owner: str, tenant: str, data: dict[str, Any], via_api: bool) -> MsEvent:
    """Build an event from Graph-shaped ``data``; ValueError when start/end are missing or invalid."""
    start = parse_graph_datetime(data.get("start"))
    end = parse_graph_datetime(data.get("end"))
    if start is None or end is None:
        raise ValueError("start and end must be dateTimeTimeZone values with a known time zone")
    if end < start:
        raise ValueError("The end time must be after the start time.")
    stamp = now()
    return MsEvent(
        id=str(data.get("id") or new_event_id()),
        owner=owner,
        tenant=tenant,
        data=data,
        start=start.timestamp(),
        end=end.timestamp(),
        ical_uid=str(data.get("iCalUId") or new_ical_uid()),
        created=stamp,
        modified=stamp,
        change_key=secrets.token_urlsafe(12),
        via_api=via_api,
    )


def new_event_id() -> str:
    """An Exchange-looking item id (``AAMk…``), URL-safe."""
    return "AAMkAG" + secrets.token_urlsafe(90).replace("-", "A").replace("_", "B")


def new_ical_uid() -> str:
    """An Exchange-looking iCalUId (``040000008200E000…``)."""
    return "040000008200E00074C5B7101A82E00800000000" + secrets.token_hex(28).upper()
