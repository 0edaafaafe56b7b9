"""The stack driven with the real grpcurl binary: list, describe, health, calls with and without the
service token, and (on the local target only) a clean stop and a restart that finds its data."""

from __future__ import annotations

import asyncio
import json

import pytest

from scripts.devstack import SERVICES, Stack

from .conftest import local_only
from .grpcurl import grpcurl

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_grpcurl_lists_each_service_with_health_and_reflection_without_a_token(stack, service):
    result = grpcurl(stack.address(service), "list")
    assert result.returncode == 0, result.stderr
    listed = set(result.stdout.split())
    assert {SERVICES[service][1], "grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"} <= listed


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_health_check_answers_serving_for_each_service(stack, service):
    full_name = SERVICES[service][1]
    result = grpcurl("-d", json.dumps({"service": full_name}), stack.address(service), "grpc.health.v1.Health/Check")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"status": "SERVING"}


def test_describe_shows_the_contract_with_no_proto_files_at_hand(stack):
    result = grpcurl(stack.address("directory"), "describe", "rendezvous.directory.v1.DirectoryService")
    assert result.returncode == 0, result.stderr
    assert "rpc ResolveAccount ( .rendezvous.directory.v1.ResolveAccountRequest )" in result.stdout
    message = grpcurl(stack.address("booking"), "describe", "rendezvous.booking.v1.CreateBookingRequest")
    assert "request_id" in message.stdout


def test_a_call_without_the_token_is_unauthenticated(stack):
    result = grpcurl(stack.address("directory"), "rendezvous.directory.v1.DirectoryService/ListOrganizationalUnits")
    assert result.returncode != 0
    assert "Code: Unauthenticated" in result.stderr
    assert "missing service token" in result.stderr


def test_a_call_with_the_token_is_served(stack):
    result = grpcurl(stack.address("directory"), "rendezvous.directory.v1.DirectoryService/CreateOrganizationalUnit",
                     token=stack.token, data={"display_name": "Acme e2e", "request_id": "e2e-1"})
    assert result.returncode == 0, result.stderr
    unit = json.loads(result.stdout)["organizational_unit"]
    assert unit["display_name"] == "Acme e2e"


def test_a_mapped_domain_error_shows_its_code_and_message(stack):
    result = grpcurl(stack.address("directory"), "rendezvous.directory.v1.DirectoryService/GetOrganizationalUnit",
                     token=stack.token, data={"org_unit_id": "no-such-unit"})
    assert result.returncode != 0
    assert "Code: NotFound" in result.stderr
    assert "no-such-unit" in result.stderr


@local_only
def test_every_process_stops_cleanly_and_a_restart_finds_the_data(tmp_path):
    first = Stack.on_free_ports(tmp_path)
    first.start()
    try:
        asyncio.run(first.wait_ready(timeout=90))
        created = grpcurl(first.address("directory"),
                          "rendezvous.directory.v1.DirectoryService/CreateOrganizationalUnit",
                          token=first.token, data={"display_name": "Survives restarts"})
        assert created.returncode == 0, created.stderr
    finally:
        codes = first.stop()
    assert codes and all(code == 0 for code in codes.values()), codes

    second = Stack.on_free_ports(tmp_path)  # same var/ directory, new ports
    second.start()
    try:
        asyncio.run(second.wait_ready(timeout=90))
        listed = grpcurl(second.address("directory"),
                         "rendezvous.directory.v1.DirectoryService/ListOrganizationalUnits", token=second.token)
        assert listed.returncode == 0, listed.stderr
        names = [u["display_name"] for u in json.loads(listed.stdout)["organizational_units"]]
        assert names == ["Survives restarts"]
    finally:
        assert all(code == 0 for code in second.stop().values())
