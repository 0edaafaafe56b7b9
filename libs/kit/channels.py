"""Outbound gRPC channels to other Rendezvous services.

Every call carries the service token, the current request id, a deadline, and (when tracing is
on) the trace context, added by the OpenTelemetry client instrumentation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc

from kit.context import request_id_var
from kit.interceptors import REQUEST_ID_KEY


class _CallDetails(grpc.aio.ClientCallDetails):
    pass


class PeerInterceptor(grpc.aio.UnaryUnaryClientInterceptor):
    """Adds token, request id and a default deadline to each unary call."""

    def __init__(self, token: str, deadline_seconds: float) -> None:
        self._auth = ("authorization", f"Bearer {token}")
        self._deadline = deadline_seconds

    async def intercept_unary_unary(
        self, continuation: Callable[..., Any], client_call_details: grpc.aio.ClientCallDetails, request: Any
    ) -> Any:
        metadata = list(client_call_details.metadata or ())
        metadata.append(self._auth)
        request_id = request_id_var.get()
        if request_id and not any(k == REQUEST_ID_KEY for k, _ in metadata):
            metadata.append((REQUEST_ID_KEY, request_id))
        details = _CallDetails(
            client_call_details.method,
            client_call_details.timeout if client_call_details.timeout is not None else self._deadline,
            grpc.aio.Metadata(*metadata),
            client_call_details.credentials,
            client_call_details.wait_for_ready,
        )
        return await continuation(details, request)


def peer_channel(address: str, token: str, deadline_seconds: float = 5.0) -> grpc.aio.Channel:
    """An insecure channel (service mesh / loopback) to ``address`` with the kit's client interceptor."""
    return grpc.aio.insecure_channel(
        address,
        interceptors=[PeerInterceptor(token, deadline_seconds)],
        options=[("grpc.enable_retries", 0)],
    )
