"""OData v2 query helpers for the SuccessFactors emulator: ``$filter`` parsing and ``/Date()/`` values.

Supported ``$filter`` grammar (clauses joined with ``and``, each optionally parenthesised):
``prop eq|ne 'v'``, ``prop in 'a','b'``, ``lastModifiedDateTime gt|ge|lt|le datetimeoffset'…'``
(or ``datetime'…'``). Anything else raises :class:`FilterError`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

_IN = re.compile(r"^(\w+)\s+in\s+((?:'(?:[^']|'')*'\s*,\s*)*'(?:[^']|'')*')$", re.IGNORECASE)
_CMP = re.compile(r"^(\w+)\s+(eq|ne|gt|ge|lt|le)\s+(.+)$", re.IGNORECASE)
_DATE = re.compile(r"^(?:datetimeoffset|datetime)'([^']+)'$", re.IGNORECASE)
_STRING = re.compile(r"^'((?:[^']|'')*)'$")
DATE_PROPS = frozenset({"lastModifiedDateTime", "hireDate", "lastModified", "lastModifiedWithTZ"})

Predicate = Callable[[dict[str, Any]], bool]


class FilterError(ValueError):
    """A ``$filter`` the emulator does not understand (answered 400)."""


def odata_date(ms: int) -> str:
    """``/Date(1700000000000+0000)/`` for epoch milliseconds."""
    return f"/Date({ms}+0000)/"


def parse_datetime_ms(text: str) -> int:
    """Epoch milliseconds of an ISO-8601 literal (naive means UTC)."""
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


def _split_and(raw: str) -> list[str]:
    parts, depth, quoted, start = [], 0, False, 0
    i = 0
    lowered = raw.lower()
    while i < len(raw):
        ch = raw[i]
        if ch == "'":
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
        elif not quoted and depth == 0 and lowered.startswith(" and ", i):
            parts.append(raw[start:i])
            start = i + 5
            i += 5
            continue
        i += 1
    parts.append(raw[start:])
    return [p.strip() for p in parts]


def _strip_parens(text: str) -> str:
    while text.startswith("(") and text.endswith(")"):
        text = text[1:-1].strip()
    return text


def _literal(text: str, prop: str) -> Any:
    text = text.strip()
    date = _DATE.match(text)
    if date:
        try:
            return parse_datetime_ms(date.group(1))
        except ValueError as exc:
            raise FilterError(f"invalid date literal {text}") from exc
    string = _STRING.match(text)
    if string:
        return string.group(1).replace("''", "'")
    if text in ("true", "false"):
        return text == "true"
    if text == "null":
        return None
    raise FilterError(f"unsupported literal {text!r} for {prop}")


def parse_filter(raw: str | None, known: frozenset[str]) -> tuple[list[Predicate], bool]:
    """Predicates for ``raw`` and whether it constrains ``status`` (else the default is active only)."""
    if not raw or not raw.strip():
        return [], False
    predicates: list[Predicate] = []
    has_status = False
    for part in _split_and(raw.strip()):
        clause = _strip_parens(part)
        match_in = _IN.match(clause)
        if match_in:
            prop = match_in.group(1)
            _check(prop, known)
            values = frozenset(v.replace("''", "'") for v in re.findall(r"'((?:[^']|'')*)'", match_in.group(2)))
            predicates.append(_member(prop, values))
            has_status |= prop == "status"
            continue
        match_cmp = _CMP.match(clause)
        if not match_cmp:
            raise FilterError(f"unsupported filter clause {clause!r}")
        prop, op, literal = match_cmp.group(1), match_cmp.group(2).lower(), match_cmp.group(3)
        _check(prop, known)
        value = _literal(literal, prop)
        if op in ("gt", "ge", "lt", "le") and prop not in DATE_PROPS:
            raise FilterError(f"operator {op} is only supported on date properties")
        predicates.append(_compare(prop, op, value))
        has_status |= prop == "status"
    return predicates, has_status


def _check(prop: str, known: frozenset[str]) -> None:
    if prop not in known:
        raise FilterError(f"[COE0021]Invalid property names: User/{prop}. Please check the property names in your query.")


def _member(prop: str, values: frozenset[str]) -> Predicate:
    return lambda row: row.get(prop) in values


def _compare(prop: str, op: str, value: Any) -> Predicate:
    if op == "eq":
        return lambda row: row.get(prop) == value
    if op == "ne":
        return lambda row: row.get(prop) != value
    if op == "gt":
        return lambda row: row.get(prop) is not None and row[prop] > value
    if op == "ge":
        return lambda row: row.get(prop) is not None and row[prop] >= value
    if op == "lt":
        return lambda row: row.get(prop) is not None and row[prop] < value
    return lambda row: row.get(prop) is not None and row[prop] <= value
