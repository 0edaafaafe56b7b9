"""The server interceptor: caller authentication, request id, error mapping through
:mod:`kit.grpc_errors`, and the JSON access log."""

from __future__ import annotations

import hmac
import logging
import random
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

import grpc
from grpc.aio import AbortError
from opentelemetry import trace

from kit import errors
from kit.context import request_id_var
from kit.grpc_errors import status_code_for, to_status
from kit.logs import log_fields
from kit.telemetry import SERVICE_ATTRIBUTE

log = logging.getLogger("rendezvous.access")
errlog = logging.getLogger("rendezvous.errors")

EXEMPT_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.")
REQUEST_ID_KEY = "x-request-id"


#: The caller's ``x-request-id``, read with the other metadata when the call comes in; each RPC runs
#: in a task of its own, so what one call sets is seen by its handler and by no other call.
_incoming_request_id: ContextVar[str | None] = ContextVar("rendezvous_incoming_request_id", default=None)


def _new_request_id() -> str:
    """32 random hex digits, like ``uuid.uuid4().hex``: an identifier, not a secret, so from
    :mod:`random` (seeded from ``os.urandom``, reseeded in a forked child) without a system call."""
    return f"{random.getrandbits(128):032x}"


def _log_access(method: str, code: str, started: float) -> None:
    """``log.info("rpc", extra=…)`` through :func:`kit.logs.log_fields`: without the stack walk
    ``Logger.info`` makes to find its caller (the JSON log does not print it), and straight to the
    JSON handler when that is where it goes — a measurable share of a small RPC."""
    log_fields(log, logging.INFO, "rpc", {"method": method, "code": code,
                                          "ms": round((time.perf_counter() - started) * 1000, 3)})  # fmt: skip


def _metadata_value(details: grpc.HandlerCallDetails, key: str) -> str | None:
    for k, v in details.invocation_metadata or ():
        if k == key:
            return v if isinstance(v, str) else v.decode()
    return None


def _deny(reason: str, message: str, domain: str) -> grpc.RpcMethodHandler:
    status = to_status(errors.Unauthenticated(message, reason=reason), domain)

    async def abort(request: Any, context: grpc.aio.ServicerContext) -> None:
        await context.abort_with_status(status)

    return grpc.unary_unary_rpc_method_handler(abort)


def check_token(details: grpc.HandlerCallDetails, token: bytes, domain: str) -> grpc.RpcMethodHandler | None:
    """``None`` when the call carries ``authorization: Bearer <token>``, else a handler that refuses it."""
    header = _metadata_value(details, "authorization")
    if not header:
        return _deny("SERVICE_TOKEN_MISSING", "missing service token: send metadata 'authorization: Bearer <token>'", domain)
    scheme, _, presented = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(presented.strip().encode(), token):
        return _deny("SERVICE_TOKEN_INVALID", "the service token is not valid", domain)
    return None


class KitInterceptor(grpc.aio.ServerInterceptor):
    """Caller authentication, request id, error mapping and access log.

    One interceptor rather than a chain of four: each layer of a grpc.aio chain costs a
    coroutine per call, and the kit must keep most of a bare server's throughput.
    Authentication runs first (before the handler is looked up); health checking and
    reflection are exempt so probes and ``grpcurl list`` work without the token.
    ``traced_service`` (set by the server only when tracing is on) is written on the current
    server span as ``rendezvous.service``.
    """

    def __init__(
        self, domain: str, *, token: str | None, access_log: bool = True, traced_service: str | None = None
    ) -> None:
        self._domain = domain
        self._token = token.encode() if token is not None else None
        self._access_log = access_log
        self._traced_service = traced_service
        self._wrapped: dict[str, grpc.RpcMethodHandler] = {}  # per method of the services, made once

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        method = handler_call_details.method
        if method.startswith(EXEMPT_PREFIXES):
            return await continuation(handler_call_details)
        if self._token is not None:
            denied = check_token(handler_call_details, self._token, self._domain)
            if denied is not None:
                return denied
        _incoming_request_id.set(_metadata_value(handler_call_details, REQUEST_ID_KEY))
        wrapped = self._wrapped.get(method)
        if wrapped is not None:
            return wrapped
        handler = await continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler  # unknown methods and streaming RPCs pass through unwrapped
        wrapped = self._wrapped[method] = self._wrap(method, handler)
        return wrapped

    def _wrap(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        behavior = handler.unary_unary
        domain = self._domain
        access_log = self._access_log
        traced_service = self._traced_service

        async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> Any:
            if traced_service is not None:  # runs inside the OpenTelemetry server span
                trace.get_current_span().set_attribute(SERVICE_ATTRIBUTE, traced_service)
            request_id = _incoming_request_id.get() or _new_request_id()
            token = request_id_var.set(request_id)
            started = time.perf_counter()
            code = "OK"
            try:
                context.set_trailing_metadata(((REQUEST_ID_KEY, request_id),))
                return await behavior(request, context)
            except errors.RendezvousError as exc:
                code = status_code_for(exc).name
                await context.abort_with_status(to_status(exc, domain))
            except NotImplementedError:
                code = "UNIMPLEMENTED"
                unbuilt = errors.Unimplemented(f"{method} is part of the contract but is not built yet")
                await context.abort_with_status(to_status(unbuilt, domain))
            except AbortError:
                code = "ABORTED_BY_HANDLER"
                raise
            except Exception:
                code = "INTERNAL"
                errlog.exception("unhandled error in %s", method)
                await context.abort_with_status(
                    to_status(errors.Internal(f"internal error; quote request id {request_id}"), domain)
                )
            finally:
                if access_log:
                    _log_access(method, code, started)
                request_id_var.reset(token)

        return grpc.unary_unary_rpc_method_handler(
            wrapped,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
