"""Settings from the environment: one frozen dataclass per service.

Every field is declared with :func:`setting`, which names its environment variable and
documents it; ``make settings-doc`` prints the table the README carries. Values are parsed
from the field's type (str, int, float, bool, tuple[str, ...]). Pure Python: no I/O besides
reading the mapping it is given.
"""

from __future__ import annotations

import dataclasses
import os
import typing
from collections.abc import Mapping
from typing import Any, Self, TypeVar

T = TypeVar("T")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class SettingsError(ValueError):
    """An environment variable holds a value its setting cannot take."""


def setting(env: str, default: T, doc: str) -> T:
    """Declare a dataclass field read from ``env`` (documented by ``doc``)."""
    return dataclasses.field(default=default, metadata={"env": env, "doc": doc})


def _parse(env: str, raw: str, kind: Any) -> Any:
    try:
        if kind is bool:
            low = raw.strip().lower()
            if low in _TRUE:
                return True
            if low in _FALSE:
                return False
            raise ValueError("expected true/false")
        if kind is int:
            return int(raw)
        if kind is float:
            return float(raw)
        if typing.get_origin(kind) is tuple:
            return tuple(p.strip() for p in raw.split(",") if p.strip())
        return raw
    except ValueError as exc:
        raise SettingsError(f"{env}={raw!r}: {exc}") from None


@dataclasses.dataclass(frozen=True, kw_only=True)
class Settings:
    """Base for every settings object; subclasses add fields with :func:`setting`."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Self:
        environ = os.environ if environ is None else environ
        hints = typing.get_type_hints(cls)
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            env = f.metadata.get("env")
            if env and env in environ:
                values[f.name] = _parse(env, environ[env], hints[f.name])
        values.update(overrides)
        return cls(**values)

    @classmethod
    def documentation(cls) -> list[tuple[str, str, str]]:
        """``(variable, default, meaning)`` for every setting, in declaration order."""
        rows = []
        for f in dataclasses.fields(cls):
            if "env" not in f.metadata:
                continue
            default = f.default
            shown = ",".join(default) if isinstance(default, tuple) else str(default).lower() if isinstance(default, bool) else str(default)
            rows.append((f.metadata["env"], shown, f.metadata["doc"]))
        return rows


DEV_SERVICE_TOKEN = "rendezvous-local-dev-token"


@dataclasses.dataclass(frozen=True, kw_only=True)
class ServiceSettings(Settings):
    """What every service reads: where to listen, how callers authenticate, logs, shutdown."""

    service_name: str = "rendezvous"
    host: str = setting("RENDEZVOUS_HOST", "127.0.0.1", "Interface the gRPC server binds (0.0.0.0 in containers).")
    port: int = 0
    database_url: str = ""
    auth_enabled: bool = setting(
        "RENDEZVOUS_AUTH_ENABLED", True, "Require the service token on every RPC except health and reflection."
    )
    service_token: str = setting(
        "RENDEZVOUS_SERVICE_TOKEN",
        DEV_SERVICE_TOKEN,
        "Token callers send as `authorization: Bearer <token>`; set a secret value outside local development.",
    )
    log_level: str = setting("RENDEZVOUS_LOG_LEVEL", "INFO", "Log level (DEBUG, INFO, WARNING, ERROR).")
    access_log: bool = setting("RENDEZVOUS_ACCESS_LOG", True, "Write one JSON line per RPC.")
    database_pool_pre_ping: bool = setting(
        "RENDEZVOUS_DATABASE_POOL_PRE_PING",
        True,
        "Check a pooled PostgreSQL connection idle for more than 0.5 s before a unit of work uses it (3 round "
        "trips with asyncpg); false saves them where nothing between the service and PostgreSQL drops idle connections.",
    )
    shutdown_grace_seconds: float = setting(
        "RENDEZVOUS_SHUTDOWN_GRACE_SECONDS", 20.0, "How long in-flight RPCs may run after SIGTERM before they are cancelled."
    )
    peer_deadline_seconds: float = setting(
        "RENDEZVOUS_PEER_DEADLINE_SECONDS", 5.0, "Deadline on every call to another Rendezvous service."
    )
    identity_address: str = setting("RENDEZVOUS_IDENTITY_ADDRESS", "127.0.0.1:50054", "host:port of the identity service.")
    directory_address: str = setting("RENDEZVOUS_DIRECTORY_ADDRESS", "127.0.0.1:50053", "host:port of the directory service.")
    availability_address: str = setting(
        "RENDEZVOUS_AVAILABILITY_ADDRESS", "127.0.0.1:50051", "host:port of the availability service."
    )
    booking_address: str = setting("RENDEZVOUS_BOOKING_ADDRESS", "127.0.0.1:50052", "host:port of the booking service.")
    smtp_host: str = setting("RENDEZVOUS_SMTP_HOST", "127.0.0.1", "SMTP relay outgoing mail is handed to.")
    smtp_port: int = setting("RENDEZVOUS_SMTP_PORT", 1025, "Port of the SMTP relay (the local mail sink in development).")
    sandbox_url: str = setting(
        "RENDEZVOUS_SANDBOX_URL",
        "",
        "When set, every provider base URL points at this sandbox (http://127.0.0.1:8060); empty = the real providers.",
    )
