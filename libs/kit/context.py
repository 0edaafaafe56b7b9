"""Per-call context carried in ContextVars: the request id of the RPC being served."""

from __future__ import annotations

from contextvars import ContextVar

request_id_var: ContextVar[str | None] = ContextVar("rendezvous_request_id", default=None)
