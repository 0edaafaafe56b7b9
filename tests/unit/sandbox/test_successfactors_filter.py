"""Unit tests for the SuccessFactors emulator's ``$filter`` parser and ``/Date()/`` helpers."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.providers.successfactors_query import FilterError, odata_date, parse_datetime_ms, parse_filter

KNOWN = frozenset({"userId", "status", "email", "lastModifiedDateTime", "department"})
ROWS: list[dict[str, Any]] = [
    {
        "userId": "a",
        "status": "t",
        "email": "a@x",
        "lastModifiedDateTime": parse_datetime_ms("2026-01-01T00:00:00Z"),
    },
    {
        "userId": "b",
        "status": "f",
        "email": "b@x",
        "lastModifiedDateTime": parse_datetime_ms("2026-03-02T00:00:00Z"),
    },
    {"userId": "c", "status": "T", "email": "c'x@x", "lastModifiedDateTime": None},
]


def run(raw: str) -> tuple[list[str], bool]:
    predicates, has_status = parse_filter(raw, KNOWN)
    return [r["userId"] for r in ROWS if all(p(r) for p in predicates)], has_status


def test_status_in_and_date_comparison_combined():
    assert run("status in 't','f' and lastModifiedDateTime gt datetimeoffset'2026-03-01T00:00:00Z'") == (
        ["b"],
        True,
    )
    assert run("lastModifiedDateTime le datetime'2026-01-01T00:00:00'") == (["a"], False)


def test_eq_ne_quotes_and_parentheses():
    assert run("(userId eq 'a') and (status ne 'f')") == (["a"], True)
    assert run("email eq 'c''x@x'") == (["c"], False)
    assert run("") == (["a", "b", "c"], False)


@pytest.mark.parametrize("raw", ["shoe eq 'x'", "status gt 't'", "substringof('a', email)", "userId eq 5"])
def test_unsupported_filters_raise(raw):
    with pytest.raises(FilterError):
        parse_filter(raw, KNOWN)


def test_odata_date_round_trip():
    ms = parse_datetime_ms("2023-11-14T22:13:20Z")
    assert ms == 1700000000000 and odata_date(ms) == "/Date(1700000000000+0000)/"
