"""A KitServer with a generic (bytes in, bytes out) service, used by the kit's tests.

Run as a process (``python tests/integration/kit/echo_server.py PORT``) for the SIGTERM test.
"""

from __future__ import annotations

import asyncio
import sys

import grpc

from kit import errors
from kit.grpc_server import Binding, KitServer
from kit.settings import ServiceSettings

SERVICE = "rendezvous.test.v1.EchoService"
TOKEN = "test-token"


async def echo(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    return request


async def slow(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    await asyncio.sleep(float(request.decode() or "1"))
    return b"finished"


async def not_found(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    raise errors.NotFound("organizational unit 'ou-x' does not exist", reason="ORGANIZATIONAL_UNIT_NOT_FOUND",
                          metadata={"org_unit_id": "ou-x"})


async def bad_input(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    errors.InvalidArgument.field("end_time", "must be after start_time")
    raise errors.InvalidArgument.field("end_time", "must be after start_time")


async def crash(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    raise RuntimeError("secret-detail-never-sent")


async def unbuilt(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    raise NotImplementedError


def _identity(b: bytes) -> bytes:
    return b


def add(server: grpc.aio.Server) -> None:
    handlers = {
        name: grpc.unary_unary_rpc_method_handler(fn, request_deserializer=_identity, response_serializer=_identity)
        for name, fn in {"Echo": echo, "Slow": slow, "NotFound": not_found, "BadInput": bad_input,
                         "Crash": crash, "Unbuilt": unbuilt}.items()
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))


def make_server(port: int = 0, *, interceptors: bool = True, grace: float = 10.0) -> KitServer:
    settings = ServiceSettings(service_name="echo", port=port, service_token=TOKEN, shutdown_grace_seconds=grace,
                               access_log=True)
    return KitServer(settings, [Binding(SERVICE, add)], error_domain="test.rendezvous", interceptors=interceptors)


if __name__ == "__main__":
    from kit.logs import configure_logging

    configure_logging("echo")
    asyncio.run(make_server(int(sys.argv[1])).run())
