"""The kit's server over a real channel: auth, rich errors, request ids, health, reflection, shutdown."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_status import rpc_status

from kit.grpc_errors import unpack_error

from .echo_server import SERVICE, TOKEN, make_server

AUTH = (("authorization", f"Bearer {TOKEN}"),)
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
async def server():
    srv = make_server()
    port = await srv.start()
    yield srv, f"127.0.0.1:{port}"
    await srv.stop(grace=0)


def _call(channel: grpc.aio.Channel, method: str):
    return channel.unary_unary(f"/{SERVICE}/{method}")


async def test_a_call_without_the_token_is_unauthenticated_with_a_reason(server):
    _, address = server
    async with grpc.aio.insecure_channel(address) as ch:
        call = _call(ch, "Echo")(b"hi")
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await call
        assert info.value.code() is grpc.StatusCode.UNAUTHENTICATED
        reason, _ = unpack_error(await rpc_status.aio.from_call(call))
        assert reason is not None and reason.reason == "SERVICE_TOKEN_MISSING"

        call = _call(ch, "Echo")(b"hi", metadata=(("authorization", "Bearer wrong"),))
        with pytest.raises(grpc.aio.AioRpcError):
            await call
        reason, _ = unpack_error(await rpc_status.aio.from_call(call))
        assert reason is not None and reason.reason == "SERVICE_TOKEN_INVALID"


async def test_a_call_with_the_token_is_served_and_gets_a_request_id(server):
    _, address = server
    async with grpc.aio.insecure_channel(address) as ch:
        call = _call(ch, "Echo")(b"hi", metadata=(*AUTH, ("x-request-id", "req-42")))
        assert await call == b"hi"
        assert ("x-request-id", "req-42") in list(await call.trailing_metadata())


async def test_a_client_reads_the_error_info_reason_of_a_domain_error(server):
    _, address = server
    async with grpc.aio.insecure_channel(address) as ch:
        call = _call(ch, "NotFound")(b"", metadata=AUTH)
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await call
        assert info.value.code() is grpc.StatusCode.NOT_FOUND
        error_info, _ = unpack_error(await rpc_status.aio.from_call(call))
        assert error_info is not None
        assert error_info.reason == "ORGANIZATIONAL_UNIT_NOT_FOUND"
        assert error_info.domain == "test.rendezvous"
        assert dict(error_info.metadata) == {"org_unit_id": "ou-x"}


async def test_bad_input_names_the_field(server):
    _, address = server
    async with grpc.aio.insecure_channel(address) as ch:
        call = _call(ch, "BadInput")(b"", metadata=AUTH)
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await call
        assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert "end_time" in (info.value.details() or "")
        _, violations = unpack_error(await rpc_status.aio.from_call(call))
        assert violations == [("end_time", "must be after start_time")]


async def test_an_unexpected_exception_is_internal_without_its_detail(server):
    _, address = server
    async with grpc.aio.insecure_channel(address) as ch:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await _call(ch, "Crash")(b"", metadata=AUTH)
        assert info.value.code() is grpc.StatusCode.INTERNAL
        assert "secret-detail" not in (info.value.details() or "")
        assert "request id" in (info.value.details() or "")


async def test_an_unbuilt_rpc_is_unimplemented_with_a_clear_message(server):
    _, address = server
    async with grpc.aio.insecure_channel(address) as ch:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await _call(ch, "Unbuilt")(b"", metadata=AUTH)
        assert info.value.code() is grpc.StatusCode.UNIMPLEMENTED
        assert "not built yet" in (info.value.details() or "")


async def test_health_and_reflection_need_no_token(server):
    _, address = server
    async with grpc.aio.insecure_channel(address) as ch:
        health = health_pb2_grpc.HealthStub(ch)
        reply = await health.Check(health_pb2.HealthCheckRequest(service=SERVICE))
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        refl = reflection_pb2_grpc.ServerReflectionStub(ch)
        responses = refl.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
        names = set()
        async for r in responses:
            names |= {s.name for s in r.list_services_response.service}
        assert {SERVICE, "grpc.health.v1.Health"} <= names


async def test_stop_lets_an_in_flight_call_finish_and_refuses_new_ones():
    srv = make_server()
    port = await srv.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as ch:
        in_flight = asyncio.ensure_future(_call(ch, "Slow")(b"0.8", metadata=AUTH))
        await asyncio.sleep(0.2)
        stopping = asyncio.ensure_future(srv.stop(grace=5))
        await asyncio.sleep(0.1)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await _call(ch, "Echo")(b"late", metadata=AUTH, timeout=2)
        assert refused.value.code() is grpc.StatusCode.UNAVAILABLE
        assert await in_flight == b"finished"
        await stopping


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_sigterm_during_an_in_flight_call_completes_it_and_exits_zero(tmp_path):
    port = _free_port()
    env = dict(os.environ, PYTHONPATH=f"{ROOT / 'libs'}{os.pathsep}{ROOT}")
    with open(tmp_path / "server.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name("echo_server.py")), str(port)],
                                env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as ch:
            deadline = time.monotonic() + 20
            while True:
                try:
                    await _call(ch, "Echo")(b"up", metadata=AUTH, timeout=1, wait_for_ready=True)
                    break
                except grpc.aio.AioRpcError:
                    assert time.monotonic() < deadline, "echo server did not start"
                    await asyncio.sleep(0.1)
            in_flight = asyncio.ensure_future(_call(ch, "Slow")(b"1.0", metadata=AUTH))
            await asyncio.sleep(0.3)
            proc.send_signal(signal.SIGTERM)
            assert await in_flight == b"finished"
        assert await asyncio.to_thread(proc.wait, 20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
