from dataclasses import replace
from datetime import timedelta

import pytest

from kit.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from services.directory.domain.model import (
    AccessMode,
    ConferencingService,
    ConnectionState,
    Grant,
    Provider,
    Purpose,
)
from services.directory.ports import Credential
from services.directory.usecases import CALENDAR, CONFERENCING, DIRECTORY

from .world import T0, World

CODE = Grant.AUTHORIZATION_CODE


@pytest.fixture
def w():
    return World()


async def connect_google(w, unit, *domains, request_id="", credential_id=""):
    return await w.connections.connect_calendar(unit, Provider.GOOGLE, AccessMode.READ_WRITE, list(domains),
                                                credential_id, CODE, "", request_id)  # fmt: skip


async def test_a_no_access_calendar_is_active_at_once_without_an_authorization(w):
    unit = await w.unit()
    done = await w.connections.connect_calendar(unit, Provider.NONE, AccessMode.NO_ACCESS, ["Example.COM"], "", CODE, "", "")
    assert done.connection.state is ConnectionState.ACTIVE
    assert (done.authorization_url, done.connection.domains) == ("", ("example.com",))
    assert w.identity.started == []


async def test_a_read_write_calendar_waits_for_the_authorization_identity_started(w):
    unit = await w.unit()
    done = await connect_google(w, unit, "northwind.example")
    assert done.connection.state is ConnectionState.PENDING_AUTHORIZATION
    assert done.authorization_url.startswith("https://login.example/authorize")
    started = w.identity.started[0]
    assert (started.provider, started.purpose, started.access_mode) == (Provider.GOOGLE, Purpose.CALENDAR, AccessMode.READ_WRITE)


async def test_a_completed_authorization_activates_the_connection_when_it_is_read(w):
    unit = await w.unit()
    done = await connect_google(w, unit, "northwind.example")
    w.identity.complete(done.connection.authorization_id, "cred-1")
    got = await w.connections.get(CALENDAR, unit, done.connection.id)
    assert (got.state, got.credential_id) == (ConnectionState.ACTIVE, "cred-1")
    assert w.tables.calendars[got.id].state is ConnectionState.ACTIVE


async def test_the_poller_activates_pending_connections_of_every_kind(w):
    unit = await w.unit()
    calendar = (await connect_google(w, unit, "northwind.example")).connection
    directory = (await w.connections.connect_directory(unit, Provider.MICROSOFT, ["contoso.example"], "", CODE, "",
                                                       timedelta(0), 0.0, "", "")).connection  # fmt: skip
    w.identity.complete(calendar.authorization_id, "cred-cal")
    w.identity.complete(directory.authorization_id, "cred-dir")
    assert await w.connections.poll_pending() == 2
    active = w.tables.directories[directory.id]
    assert (active.state, active.next_sync_time, w.wakes) == (ConnectionState.ACTIVE, T0, 1)


async def test_a_failed_authorization_leaves_the_connection_needing_reauthorization(w):
    unit = await w.unit()
    done = await connect_google(w, unit, "northwind.example")
    w.identity.fail(done.connection.authorization_id)
    got = await w.connections.get(CALENDAR, unit, done.connection.id)
    assert got.state is ConnectionState.NEEDS_REAUTHORIZATION
    assert "AUTHORIZATION_DENIED" in got.state_message


async def test_reading_a_pending_connection_still_works_when_identity_is_down(w):
    unit = await w.unit()
    done = await connect_google(w, unit, "northwind.example")
    w.identity.down = True
    assert (await w.connections.get(CALENDAR, unit, done.connection.id)).state is ConnectionState.PENDING_AUTHORIZATION


async def test_a_domain_served_by_another_calendar_connection_is_refused_with_who_serves_it(w):
    unit = await w.unit()
    first = await w.no_access(unit, "a.example", "b.example")
    with pytest.raises(AlreadyExists) as info:
        await connect_google(w, unit, "c.example", "B.example")
    assert info.value.reason == "DOMAIN_ALREADY_SERVED"
    assert info.value.metadata == {"domain": "b.example", "connection_id": first}
    assert w.identity.started == []


async def test_another_unit_may_serve_the_same_domain(w):
    await w.no_access(await w.unit("A"), "shared.example")
    await w.no_access(await w.unit("B"), "shared.example")


async def test_a_disconnected_connections_domains_can_be_connected_again(w):
    unit = await w.unit()
    first = await w.no_access(unit, "a.example")
    await w.connections.disconnect(CALENDAR, unit, first)
    second = await w.no_access(unit, "a.example")
    assert w.tables.served[(unit, "a.example")] == second


async def test_bad_domains_are_invalid_arguments_naming_each_one(w):
    unit = await w.unit()
    with pytest.raises(InvalidArgument) as info:
        await w.connections.connect_calendar(unit, Provider.GOOGLE, AccessMode.FREE_BUSY,
                                             ["ok.example", "not a domain", "OK.example"], "", CODE, "", "")  # fmt: skip
    assert [v.field for v in info.value.violations] == ["domains[1]", "domains[2]"]


async def test_no_domains_no_mode_and_a_non_calendar_provider_are_each_named(w):
    unit = await w.unit()
    with pytest.raises(InvalidArgument) as info:
        await w.connections.connect_calendar(unit, Provider.ZOOM, None, [], "", CODE, "", "")
    assert {v.field for v in info.value.violations} == {"access_mode", "domains", "provider"}


async def test_admin_consent_is_only_for_microsoft(w):
    unit = await w.unit()
    with pytest.raises(InvalidArgument) as info:
        await w.connections.connect_calendar(unit, Provider.GOOGLE, AccessMode.READ_WRITE, ["a.example"], "",
                                             Grant.ADMIN_CONSENT, "", "")  # fmt: skip
    assert info.value.reason == "UNSUPPORTED_COMBINATION"


async def test_an_unknown_unit_is_not_found(w):
    with pytest.raises(NotFound) as info:
        await w.no_access("nope", "a.example")
    assert info.value.reason == "ORGANIZATIONAL_UNIT_NOT_FOUND"


async def test_an_organization_wide_credential_makes_the_connection_active_at_once(w):
    unit = await w.unit()
    w.identity.credentials["sa-1"] = Credential("sa-1", Provider.GOOGLE, Purpose.CALENDAR, AccessMode.READ_WRITE, True, True)
    done = await connect_google(w, unit, "northwind.example", credential_id="sa-1")
    assert (done.connection.state, done.connection.credential_id, done.authorization_url) == (ConnectionState.ACTIVE, "sa-1", "")


@pytest.mark.parametrize("credential", [
    Credential("c", Provider.MICROSOFT, Purpose.CALENDAR, AccessMode.READ_WRITE, True, True),
    Credential("c", Provider.GOOGLE, Purpose.DIRECTORY, None, True, True),
    Credential("c", Provider.GOOGLE, Purpose.CALENDAR, AccessMode.FREE_BUSY, True, True),
    Credential("c", Provider.GOOGLE, Purpose.CALENDAR, AccessMode.READ_WRITE, False, True),
    Credential("c", Provider.GOOGLE, Purpose.CALENDAR, AccessMode.READ_WRITE, True, False),
])  # fmt: skip
async def test_a_credential_of_another_provider_purpose_mode_kind_or_state_is_a_mismatch(w, credential):
    unit = await w.unit()
    w.identity.credentials["c"] = credential
    with pytest.raises(FailedPrecondition) as info:
        await connect_google(w, unit, "northwind.example", credential_id="c")
    assert info.value.reason == "CREDENTIAL_MISMATCH"
    assert w.tables.calendars == {}


async def test_the_same_request_id_returns_the_same_connection_and_url(w):
    unit = await w.unit()
    first = await connect_google(w, unit, "a.example", request_id="r-1")
    again = await connect_google(w, unit, "a.example", request_id="r-1")
    assert (again.connection, again.authorization_url) == (first.connection, first.authorization_url)
    assert len(w.identity.started) == 1


async def test_a_reused_request_id_with_other_domains_is_a_conflict(w):
    unit = await w.unit()
    await connect_google(w, unit, "a.example", request_id="r-1")
    with pytest.raises(AlreadyExists) as info:
        await connect_google(w, unit, "b.example", request_id="r-1")
    assert info.value.reason == "REQUEST_ID_CONFLICT"


async def test_disconnecting_stops_routing_and_revokes_the_credential(w):
    unit = await w.unit()
    done = await connect_google(w, unit, "a.example")
    w.identity.complete(done.connection.authorization_id, "cred-1")
    await w.connections.get(CALENDAR, unit, done.connection.id)
    gone = await w.connections.disconnect(CALENDAR, unit, done.connection.id)
    assert (gone.state, gone.disconnect_time, gone.revoke_pending) == (ConnectionState.DISCONNECTED, T0, False)
    assert (unit, "a.example") not in w.tables.served
    assert w.identity.revoked == ["cred-1"]
    assert await w.connections.disconnect(CALENDAR, unit, done.connection.id) == gone  # idempotent


async def test_a_revocation_identity_cannot_take_is_retried_later_but_routing_stops_at_once(w):
    unit = await w.unit()
    w.identity.credentials["sa"] = Credential("sa", Provider.GOOGLE, Purpose.CALENDAR, AccessMode.READ_WRITE, True, True)
    done = await connect_google(w, unit, "a.example", credential_id="sa")
    w.identity.down = True
    gone = await w.connections.disconnect(CALENDAR, unit, done.connection.id)
    assert (gone.state, gone.revoke_pending) == (ConnectionState.DISCONNECTED, True)
    assert (unit, "a.example") not in w.tables.served
    w.identity.down = False
    assert await w.connections.retry_revocations() == 1
    assert w.identity.revoked == ["sa"]
    assert not w.tables.calendars[done.connection.id].revoke_pending


async def test_an_authorization_completing_after_disconnection_has_its_credential_revoked(w):
    unit = await w.unit()
    done = await connect_google(w, unit, "a.example")
    gone = await w.connections.disconnect(CALENDAR, unit, done.connection.id)
    assert gone.revoke_pending
    await w.connections.retry_revocations()
    assert w.identity.revoked == []
    w.identity.complete(done.connection.authorization_id, "late-cred")
    await w.connections.retry_revocations()
    assert w.identity.revoked == ["late-cred"]


async def test_another_units_connection_is_not_found_like_an_unknown_one(w):
    mine, theirs = await w.unit("Mine"), await w.unit("Theirs")
    their_connection = await w.no_access(theirs, "theirs.example")
    for call in (w.connections.get(CALENDAR, mine, their_connection),
                 w.connections.disconnect(CALENDAR, mine, their_connection)):  # fmt: skip
        with pytest.raises(NotFound) as info:
            await call
        assert info.value.reason == "CONNECTION_NOT_FOUND"
    assert w.tables.calendars[their_connection].state is ConnectionState.ACTIVE


async def test_listing_pages_oldest_first_and_hides_disconnected_ones_unless_asked(w):
    unit = await w.unit()
    ids = []
    for n in range(3):
        ids.append(await w.no_access(unit, f"d{n}.example"))
        w.clock.advance(timedelta(seconds=1))
    await w.connections.disconnect(CALENDAR, unit, ids[1])
    first = await w.connections.list(CALENDAR, unit, 1, "", False)
    second = await w.connections.list(CALENDAR, unit, 1, first.next_page_token, False)
    assert [c.id for c in first.items + second.items] == [ids[0], ids[2]]
    assert second.next_page_token == ""
    assert len((await w.connections.list(CALENDAR, unit, 0, "", True)).items) == 3


async def test_a_directory_connection_with_a_credential_is_active_and_due_for_its_first_sync(w):
    unit = await w.unit()
    w.identity.credentials["sf"] = Credential("sf", Provider.SUCCESSFACTORS, Purpose.DIRECTORY, None, True, True)
    done = await w.connections.connect_directory(unit, Provider.SUCCESSFACTORS, ["fabrikam.example"], "sf", CODE, "",
                                                 timedelta(0), 0.0, "https://api4.sf.example/", "")  # fmt: skip
    c = done.connection
    assert (c.state, c.next_sync_time, c.sync_interval, c.max_deactivation_ratio) == (
        ConnectionState.ACTIVE, T0, timedelta(hours=1), 0.10)
    assert c.api_server_url == "https://api4.sf.example"
    assert w.wakes == 1


async def test_directory_settings_out_of_range_are_invalid(w):
    unit = await w.unit()
    with pytest.raises(InvalidArgument) as info:
        await w.connections.connect_directory(unit, Provider.SUCCESSFACTORS, ["f.example"], "", CODE, "",
                                              timedelta(minutes=1), 1.5, "", "")  # fmt: skip
    assert {v.field for v in info.value.violations} == {"sync_interval", "max_deactivation_ratio", "credential_id",
                                                        "api_server_url"}  # fmt: skip


async def test_a_domain_is_onboarded_by_one_directory_connection_only(w):
    unit = await w.unit()
    await w.connections.connect_directory(unit, Provider.GOOGLE, ["a.example"], "", CODE, "", timedelta(0), 0, "", "")
    with pytest.raises(AlreadyExists) as info:
        await w.connections.connect_directory(unit, Provider.MICROSOFT, ["a.example"], "", CODE, "", timedelta(0), 0, "", "")
    assert info.value.reason == "DOMAIN_ALREADY_SERVED"


async def test_a_conferencing_connection_authorizes_with_its_services_provider(w):
    unit = await w.unit()
    done = await w.connections.connect_conferencing(unit, ConferencingService.ZOOM, "", CODE, "https://app.example/done", "")
    assert w.identity.started[0].provider is Provider.ZOOM
    assert w.identity.started[0].purpose is Purpose.CONFERENCING
    w.identity.complete(done.connection.authorization_id, "zoom-cred")
    assert (await w.connections.get(CONFERENCING, unit, done.connection.id)).state is ConnectionState.ACTIVE


async def test_a_return_uri_that_is_not_absolute_http_is_invalid(w):
    unit = await w.unit()
    with pytest.raises(InvalidArgument) as info:
        await w.connections.connect_conferencing(unit, ConferencingService.WEBEX, "", CODE, "javascript:alert(1)", "")
    assert info.value.violations[0].field == "return_uri"


async def test_a_disconnect_racing_an_activation_still_revokes_the_new_credential(w):
    unit = await w.unit()
    done = await connect_google(w, unit, "a.example")
    # The activation lands between the disconnect's read and its write: the conditional update
    # notices, reads again and revokes the credential the activation stored.
    original_get = type(w.uow()).__aenter__
    activated = False

    async def enter(self):  # type: ignore[no-untyped-def]
        nonlocal activated
        work = await original_get(self)
        if not activated and self.db.tables.calendars[done.connection.id].pending:
            activated = True
            self.db.tables.calendars[done.connection.id] = replace(
                self.db.tables.calendars[done.connection.id], state=ConnectionState.ACTIVE, credential_id="cred-raced")
        return work

    type(w.uow()).__aenter__ = enter  # type: ignore[method-assign]
    try:
        await w.connections.disconnect(CALENDAR, unit, done.connection.id)
    finally:
        type(w.uow()).__aenter__ = original_get  # type: ignore[method-assign]
    assert w.identity.revoked == ["cred-raced"]


async def test_directory_kind_reads_go_through_the_same_lifecycle(w):
    unit = await w.unit()
    done = await w.connections.connect_directory(unit, Provider.GOOGLE, ["a.example"], "", CODE, "", timedelta(0), 0, "", "")
    assert (await w.connections.get(DIRECTORY, unit, done.connection.id)).pending
