"""Channels to the four services with token, deadlines, retries and rich errors."""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import grpc

from rendezvous.availability.v1 import availability_service_pb2_grpc as availability
from rendezvous.booking.v1 import booking_service_pb2_grpc as booking
from rendezvous.directory.v1 import directory_service_pb2_grpc as directory
from rendezvous.identity.v1 import identity_service_pb2_grpc as identity
from rendezvous_client.errors import RendezvousError

RETRYABLE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})
# Reads and checks: safe to repeat. Creates and changes are retried only with a request_id.
IDEMPOTENT_PREFIXES = ("Get", "List", "Query", "Resolve", "Verify")


@dataclass(frozen=True)
class Addresses:
    availability: str = "127.0.0.1:50051"
    booking: str = "127.0.0.1:50052"
    directory: str = "127.0.0.1:50053"
    identity: str = "127.0.0.1:50054"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Addresses:
        env = os.environ if environ is None else environ
        defaults = cls()
        return cls(**{name: env.get(f"RENDEZVOUS_{name.upper()}_ADDRESS", getattr(defaults, name))
                      for name in ("availability", "booking", "directory", "identity")})


def is_idempotent(method: str, request: Any) -> bool:
    rpc = method.rsplit("/", 1)[-1]
    return rpc.startswith(IDEMPOTENT_PREFIXES) or bool(getattr(request, "request_id", ""))


class _Details(grpc.aio.ClientCallDetails):
    pass


class ClientInterceptor(grpc.aio.UnaryUnaryClientInterceptor):
    """Token, default deadline, bounded retries of idempotent calls, errors as RendezvousError."""

    def __init__(self, token: str, deadline: float, retries: int, backoff: float,
                 sleep: Callable[[float], Any] = asyncio.sleep) -> None:
        self._auth = ("authorization", f"Bearer {token}")
        self._deadline = deadline
        self._retries = retries
        self._backoff = backoff
        self._sleep = sleep

    async def intercept_unary_unary(self, continuation: Callable[..., Any],
                                    client_call_details: grpc.aio.ClientCallDetails, request: Any) -> Any:
        raw_method = client_call_details.method
        method = raw_method.decode() if isinstance(raw_method, bytes) else str(raw_method)
        metadata = [*(client_call_details.metadata or ()), self._auth]
        details = _Details(raw_method, client_call_details.timeout or self._deadline, grpc.aio.Metadata(*metadata),
                           client_call_details.credentials, client_call_details.wait_for_ready)
        attempts = 1 + (self._retries if is_idempotent(method, request) else 0)
        for attempt in range(attempts):
            call = await continuation(details, request)
            try:
                return await call
            except grpc.aio.AioRpcError as error:
                if error.code() in RETRYABLE and attempt + 1 < attempts:
                    await self._sleep(self._backoff * (2**attempt) * (0.5 + random.random()))
                    continue
                raise RendezvousError.from_rpc_error(error, method) from None
        raise AssertionError("unreachable")


class Rendezvous:
    """Stubs of the four services over long-lived channels; ``async with`` closes them."""

    def __init__(self, addresses: Addresses, token: str, *, deadline: float = 10.0, retries: int = 3,
                 backoff: float = 0.2) -> None:
        interceptor = ClientInterceptor(token, deadline, retries, backoff)
        self._channels = {
            name: grpc.aio.insecure_channel(getattr(addresses, name), interceptors=[interceptor])
            for name in ("availability", "booking", "directory", "identity")
        }
        self.availability = availability.AvailabilityServiceStub(self._channels["availability"])
        self.booking = booking.BookingServiceStub(self._channels["booking"])
        self.directory = directory.DirectoryServiceStub(self._channels["directory"])
        self.identity = identity.IdentityServiceStub(self._channels["identity"])

    @classmethod
    def from_env(cls, **kw: Any) -> Rendezvous:
        """Addresses from ``RENDEZVOUS_<SERVICE>_ADDRESS``, token from ``RENDEZVOUS_SERVICE_TOKEN``."""
        return cls(Addresses.from_env(), os.environ.get("RENDEZVOUS_SERVICE_TOKEN", ""), **kw)

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()
