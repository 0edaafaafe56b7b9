"""Small readers that turn provider JSON into typed values or a ``ProviderResponseError``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from providers.errors import ProviderResponseError
from providers.times import parse_rfc3339

T = TypeVar("T")


def bad(provider: str, what: str) -> ProviderResponseError:
    """The error for a 2xx body that lacks what the API documents."""
    return ProviderResponseError(f"{provider}: unexpected response: {what}", provider=provider)


def req_str(provider: str, obj: dict[str, Any], key: str) -> str:
    """``obj[key]`` as a non-empty string (numbers are accepted and turned into text)."""
    value = obj.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or not value:
        raise bad(provider, f"missing {key!r}")
    return value


def opt_str(obj: dict[str, Any], key: str) -> str | None:
    """``obj[key]`` when it is a non-empty string, else None."""
    value = obj.get(key)
    return value if isinstance(value, str) and value else None


def opt_bool(obj: dict[str, Any], key: str, default: bool | None = None) -> bool | None:
    """``obj[key]`` when it is a boolean, else ``default``."""
    value = obj.get(key)
    return value if isinstance(value, bool) else default


def opt_int(obj: dict[str, Any], key: str) -> int | None:
    """``obj[key]`` as an int when it is one (or a string of digits), else None."""
    value = obj.get(key)
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    return None


def objects(provider: str, obj: dict[str, Any], key: str) -> list[dict[str, Any]]:
    """``obj[key]`` as a list of JSON objects; absent or null is an empty list."""
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise bad(provider, f"{key!r} is not a list of objects")
    return value


def obj_at(obj: dict[str, Any], key: str) -> dict[str, Any]:
    """``obj[key]`` when it is an object, else ``{}``."""
    value = obj.get(key)
    return value if isinstance(value, dict) else {}


def time_at(provider: str, text: Any, parse: Callable[[Any], datetime] = parse_rfc3339) -> datetime:
    """A provider timestamp parsed with ``parse``, or a ``ProviderResponseError``."""
    try:
        return parse(text)
    except (TypeError, ValueError, AttributeError):
        raise bad(provider, "unreadable timestamp") from None


def each(provider: str, rows: list[dict[str, Any]], build: Callable[[dict[str, Any]], T]) -> tuple[T, ...]:
    """``build`` applied to every row."""
    return tuple(build(row) for row in rows)
