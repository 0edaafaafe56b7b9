from datetime import UTC, datetime

import pytest

from kit.clock import FixedClock, SequentialIds
from kit.errors import AlreadyExists, InvalidArgument, NotFound
from services.directory.usecases import OrganizationalUnitsUseCases

from .fakes import FakeUnitOfWork

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def uow():
    return FakeUnitOfWork()


@pytest.fixture
def units(uow):
    return OrganizationalUnitsUseCases(uow, FixedClock(T0), SequentialIds("ou"), "invites@rendezvous.example")


async def test_a_new_unit_gets_the_default_invite_sender(units):
    unit = await units.create("Acme", "", "")
    assert (unit.id, unit.display_name, unit.invite_sender_address) == ("ou-1", "Acme", "invites@rendezvous.example")
    assert await units.get("ou-1") == unit


async def test_a_unit_may_choose_its_own_sender_domain(units):
    unit = await units.create("Acme", "Invites@Scheduling.Acme.example", "")
    assert unit.invite_sender_address == "invites@scheduling.acme.example"


async def test_bad_input_names_every_bad_field_and_writes_nothing(units, uow):
    with pytest.raises(InvalidArgument) as info:
        await units.create("  ", "not-an-address", "")
    assert [v.field for v in info.value.violations] == ["display_name", "invite_sender_address"]
    assert uow.commits == 0


async def test_the_same_request_id_returns_the_first_unit(units, uow):
    first = await units.create("Acme", "", "req-1")
    again = await units.create("Acme", "", "req-1")
    assert again == first
    assert uow.commits == 1


async def test_a_reused_request_id_with_other_values_is_a_conflict(units):
    await units.create("Acme", "", "req-1")
    with pytest.raises(AlreadyExists) as info:
        await units.create("Other", "", "req-1")
    assert info.value.reason == "REQUEST_ID_CONFLICT"


async def test_an_unknown_unit_is_not_found_with_its_reason(units):
    with pytest.raises(NotFound) as info:
        await units.get("ou-404")
    assert info.value.reason == "ORGANIZATIONAL_UNIT_NOT_FOUND"


async def test_listing_pages_through_every_unit_once(units):
    for n in range(5):
        await units.create(f"Unit {n}", "", "")
    seen, token = [], ""
    while True:
        page = await units.list(2, token)
        seen += [u.id for u in page.items]
        token = page.next_page_token
        if not token:
            break
    assert seen == [f"ou-{n}" for n in range(1, 6)]


async def test_update_changes_only_the_named_fields(units):
    unit = await units.create("Acme", "", "")
    updated = await units.update(unit.id, None, "bookings@acme.example")
    assert (updated.display_name, updated.invite_sender_address) == ("Acme", "bookings@acme.example")
