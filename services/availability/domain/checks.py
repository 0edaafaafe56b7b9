"""Collecting bad-input findings, each with its catalogue reason (pure Python).

``kit.errors.Validator`` raises every violation under one reason; availability's limits each have their
own (TOO_MANY_PARTICIPANTS, DURATION_INVALID …). ``Checks`` keeps every violation, raises
INVALID_ARGUMENT with the reason and metadata of the first one, and always names it in the ``field``
metadata key, as error_reason.proto asks.
"""

from __future__ import annotations

from kit.errors import FieldViolation, InvalidArgument

FIELD_INVALID = "FIELD_INVALID"


class Checks:
    """Violations found so far; :meth:`raise_if_any` turns them into one ``InvalidArgument``."""

    def __init__(self) -> None:
        self.violations: list[FieldViolation] = []
        self._first: tuple[str, dict[str, str]] | None = None

    def add(self, field: str, description: str, reason: str = FIELD_INVALID, **metadata: str) -> None:
        self.violations.append(FieldViolation(field, description))
        if self._first is None:
            self._first = (reason, {"field": field, **metadata})

    def check(self, ok: bool, field: str, description: str, reason: str = FIELD_INVALID, **metadata: str) -> bool:
        if not ok:
            self.add(field, description, reason, **metadata)
        return ok

    def raise_if_any(self) -> None:
        if self._first is None:
            return
        reason, metadata = self._first
        summary = "; ".join(f"{v.field}: {v.description}" for v in self.violations)
        raise InvalidArgument(summary, reason=reason, metadata=metadata, violations=self.violations)
