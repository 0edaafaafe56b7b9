from dataclasses import replace
from datetime import timedelta

import pytest

from kit.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from services.directory.domain.model import (
    AccessMode,
    Account,
    AccountSource,
    AccountState,
    ConferencingService,
    ConnectionState,
    Grant,
    Provider,
    Purpose,
    Room,
)
from services.directory.ports import Credential
from services.directory.usecases import CALENDAR

from .world import T0, World

CODE = Grant.AUTHORIZATION_CODE


@pytest.fixture
def w():
    return World()


async def test_an_account_needs_a_domain_one_of_the_units_calendars_serves(w):
    unit = await w.unit()
    with pytest.raises(FailedPrecondition) as info:
        await w.accounts.create(unit, "ada@unserved.example", "Ada", "", "")
    assert info.value.reason == "EMAIL_DOMAIN_NOT_SERVED"
    await w.no_access(unit, "served.example")
    account = await w.accounts.create(unit, " Ada@Served.Example ", "Ada", "Europe/London", "")
    assert (account.email, account.state, account.source, account.time_zone) == (
        "ada@served.example", AccountState.ACTIVE, AccountSource.MANUAL, "Europe/London")


async def test_malformed_emails_and_unknown_time_zones_are_invalid_arguments(w):
    unit = await w.unit()
    await w.no_access(unit, "served.example")
    with pytest.raises(InvalidArgument) as info:
        await w.accounts.create(unit, "not-an-email", "x" * 300, "", "")
    assert {v.field for v in info.value.violations} == {"email", "display_name"}
    with pytest.raises(InvalidArgument) as tz:
        await w.accounts.create(unit, "ada@served.example", "", "Mars/Olympus", "")
    assert tz.value.reason == "TIME_ZONE_UNKNOWN"
    assert w.tables.accounts == {}


async def test_an_email_is_unique_in_a_unit(w):
    unit = await w.unit()
    await w.no_access(unit, "served.example")
    first = await w.accounts.create(unit, "ada@served.example", "", "", "")
    with pytest.raises(AlreadyExists) as info:
        await w.accounts.create(unit, "ADA@served.example", "", "", "")
    assert (info.value.reason, info.value.metadata["account_id"]) == ("ACCOUNT_ALREADY_EXISTS", first.id)


async def test_the_same_request_id_returns_the_same_account(w):
    unit = await w.unit()
    await w.no_access(unit, "served.example")
    first = await w.accounts.create(unit, "ada@served.example", "Ada", "", "req")
    assert await w.accounts.create(unit, "ada@served.example", "Ada", "", "req") == first
    with pytest.raises(AlreadyExists):
        await w.accounts.create(unit, "bob@served.example", "Bob", "", "req")


async def test_another_units_account_is_not_found(w):
    mine, theirs = await w.unit("Mine"), await w.unit("Theirs")
    await w.no_access(theirs, "theirs.example")
    account = await w.accounts.create(theirs, "eve@theirs.example", "", "", "")
    with pytest.raises(NotFound) as info:
        await w.accounts.get(mine, account.id)
    assert info.value.reason == "ACCOUNT_NOT_FOUND"
    assert (await w.accounts.list(mine, None, "", 0, "")).items == []


async def test_accounts_list_by_email_page_by_page_and_by_state(w):
    unit = await w.unit()
    await w.no_access(unit, "served.example")
    for name in ("carol", "alice", "bob"):
        await w.accounts.create(unit, f"{name}@served.example", "", "", "")
    first = await w.accounts.list(unit, None, "", 2, "")
    rest = await w.accounts.list(unit, None, "", 2, first.next_page_token)
    assert [a.email.split("@")[0] for a in first.items + rest.items] == ["alice", "bob", "carol"]
    assert (await w.accounts.list(unit, AccountState.SUSPENDED, "", 0, "")).items == []
    with pytest.raises(InvalidArgument):
        await w.accounts.list(unit, AccountState.ACTIVE, "", 2, first.next_page_token)


def room(unit: str, email: str) -> Room:
    return Room("room-1", unit, email, "Room 1", 8, "B1", 2, "dir-1", "place-1", T0, T0)


async def test_resolve_answers_account_route_and_room(w):
    unit = await w.unit()
    calendar = await w.no_access(unit, "served.example")
    account = await w.accounts.create(unit, "ada@served.example", "", "", "")
    w.tables.rooms["room-1"] = room(unit, "room-1@served.example")
    found = await w.resolve.resolve(unit, "ADA@served.example")
    assert (found.account, found.calendar.id, found.room, found.links) == (account, calendar, None, [])
    as_room = await w.resolve.resolve(unit, "room-1@served.example")
    assert (as_room.account, as_room.room.calendar_connection_id) == (None, calendar)


async def test_an_unserved_domain_resolves_to_no_route_not_an_error(w):
    unit = await w.unit()
    found = await w.resolve.resolve(unit, "someone@elsewhere.example")
    assert (found.account, found.calendar, found.room) == (None, None, None)


async def test_resolve_refuses_malformed_emails_and_unknown_units(w):
    with pytest.raises(InvalidArgument):
        await w.resolve.resolve("u", "no-at-sign")
    with pytest.raises(NotFound) as info:
        await w.resolve.resolve("nope", "a@b.example")
    assert info.value.reason == "ORGANIZATIONAL_UNIT_NOT_FOUND"


async def test_a_disconnected_calendar_stops_routing_at_once(w):
    unit = await w.unit()
    calendar = await w.no_access(unit, "served.example")
    await w.connections.disconnect(CALENDAR, unit, calendar)
    assert (await w.resolve.resolve(unit, "ada@served.example")).calendar is None


async def test_a_pending_route_is_checked_with_identity_when_resolved(w):
    unit = await w.unit()
    done = await w.connections.connect_calendar(unit, Provider.MICROSOFT, AccessMode.FREE_BUSY, ["contoso.example"], "",
                                                CODE, "", "")  # fmt: skip
    w.identity.complete(done.connection.authorization_id, "cred-ms")
    route = (await w.resolve.resolve(unit, "megan@contoso.example")).calendar
    assert (route.state, route.credential_id) == (ConnectionState.ACTIVE, "cred-ms")


async def zoom(w, unit):
    w.identity.credentials["z"] = Credential("z", Provider.ZOOM, Purpose.CONFERENCING, None, True, True)
    return (await w.connections.connect_conferencing(unit, ConferencingService.ZOOM, "z", CODE, "", "")).connection


async def test_a_conferencing_link_is_looked_up_once_and_reused(w):
    unit = await w.unit()
    await w.no_access(unit, "served.example")
    connection = await zoom(w, unit)
    w.conferencing_directory.users["ada@served.example"] = "zoom-ada"
    for _ in range(3):
        links = (await w.resolve.resolve(unit, "ada@served.example")).links
        assert [(link.connection.id, link.external_user_id) for link in links] == [(connection.id, "zoom-ada")]
    assert w.conferencing_directory.asked == ["ada@served.example"]


async def test_nobody_at_the_conferencing_service_is_remembered_for_a_short_while(w):
    unit = await w.unit()
    await w.no_access(unit, "served.example")
    await zoom(w, unit)
    assert (await w.resolve.resolve(unit, "bob@served.example")).links == []
    assert (await w.resolve.resolve(unit, "bob@served.example")).links == []
    w.clock.advance(timedelta(minutes=11))
    w.conferencing_directory.users["bob@served.example"] = "zoom-bob"
    assert [link.external_user_id for link in (await w.resolve.resolve(unit, "bob@served.example")).links] == ["zoom-bob"]
    assert len(w.conferencing_directory.asked) == 2


async def test_a_conferencing_service_that_cannot_be_asked_leaves_the_stale_link(w):
    unit = await w.unit()
    await w.no_access(unit, "served.example")
    await zoom(w, unit)
    w.conferencing_directory.users["ada@served.example"] = "zoom-ada"
    await w.resolve.resolve(unit, "ada@served.example")
    w.clock.advance(timedelta(days=2))
    w.conferencing_directory.down = True
    assert [link.external_user_id for link in (await w.resolve.resolve(unit, "ada@served.example")).links] == ["zoom-ada"]
    assert (await w.resolve.resolve(unit, "new@served.example")).links == []


async def test_external_emails_are_not_looked_up_at_conferencing_services(w):
    unit = await w.unit()
    await zoom(w, unit)
    assert (await w.resolve.resolve(unit, "guest@gmail.example")).links == []
    assert w.conferencing_directory.asked == []


async def test_meet_and_teams_links_come_from_synced_accounts_without_a_provider_call(w):
    unit = await w.unit()
    await w.no_access(unit, "served.example")
    for service, provider, cred in ((ConferencingService.GOOGLE_MEET, Provider.GOOGLE, "g"),
                                    (ConferencingService.MICROSOFT_TEAMS, Provider.MICROSOFT, "m")):  # fmt: skip
        w.identity.credentials[cred] = Credential(cred, provider, Purpose.CONFERENCING, None, True, True)
        await w.connections.connect_conferencing(unit, service, cred, CODE, "", "")
        w.clock.advance(timedelta(seconds=1))
    base = Account("acc", unit, "ada@served.example", "", "", AccountState.ACTIVE, AccountSource.MICROSOFT_ENTRA,
                   "object-id-1", "dir", T0, T0, None)  # fmt: skip
    w.tables.accounts["acc"] = base
    links = (await w.resolve.resolve(unit, "ada@served.example")).links
    assert [(link.connection.service, link.external_user_id) for link in links] == [
        (ConferencingService.MICROSOFT_TEAMS, "object-id-1")]
    w.tables.accounts["acc"] = replace(base, source=AccountSource.GOOGLE_WORKSPACE, external_id="google-1")
    links = (await w.resolve.resolve(unit, "ada@served.example")).links
    assert [(link.connection.service, link.external_user_id) for link in links] == [
        (ConferencingService.GOOGLE_MEET, "google-1")]
    assert w.conferencing_directory.asked == ["ada@served.example"]  # Graph was asked about the Google user only
