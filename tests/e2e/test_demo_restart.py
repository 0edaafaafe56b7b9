"""`make run` twice on the same var/: the demo organization is found again, not duplicated, and the
providers still accept the tokens identity stored (the sandbox keeps what it issued in var/sandbox)."""

from __future__ import annotations

import asyncio

import pytest

from rendezvous.availability.v1 import availability_resources_pb2 as avr
from rendezvous.availability.v1 import availability_service_pb2 as av
from rendezvous.common.v1 import common_pb2 as common
from rendezvous_client import Addresses, Rendezvous
from scripts.devstack import SERVICES, Stack, seed_demo

from .conftest import local_only
from .story import ts

pytestmark = pytest.mark.e2e


async def _seed_and_read_free_busy(stack: Stack) -> tuple[str, int]:
    await stack.wait_ready(timeout=90)
    org = await seed_demo(stack)  # syncs both directories: fails if the provider refuses the stored token
    addresses = Addresses(**{name: stack.address(name) for name in SERVICES})
    async with Rendezvous(addresses, stack.token) as rdv:
        answer = await rdv.availability.GetFreeBusy(av.GetFreeBusyRequest(
            org_unit_id=org.org_unit_id, email="ada@northwind.example",
            window=common.TimeRange(start_time=ts("2027-03-03T08:00:00Z"), end_time=ts("2027-03-03T18:00:00Z"))))
    return org.org_unit_id, answer.diagnostics.status


@local_only
def test_a_restarted_stack_finds_its_demo_organization_and_its_providers_still_accept_the_stored_tokens(tmp_path):
    outcomes = []
    for _ in range(2):
        stack = Stack.on_free_ports(tmp_path)  # same var/ directory, new ports
        stack.start()
        try:
            outcomes.append(asyncio.run(_seed_and_read_free_busy(stack)))
        finally:
            codes = stack.stop()
        assert all(code == 0 for code in codes.values()), codes
    (first_unit, first_status), (second_unit, second_status) = outcomes
    assert second_unit == first_unit
    assert first_status == second_status == avr.MemberDiagnostics.STATUS_OK
