"""A short-lived in-memory cache of provider free/busy, per credential, mailbox and window.

A cached answer serves any later request for a window inside the one it was fetched for, until it
is ``ttl`` seconds old. Only successful answers are kept. Nothing leaves the process; each replica
has its own cache, which is fine for ~30 seconds of staleness.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.availability.domain.model import MailboxBusy
from services.availability.ports import Monotonic

MAX_KEYS = 20_000


@dataclass(frozen=True)
class _Entry:
    lo: int
    hi: int
    expires: float
    answer: MailboxBusy


class FreeBusyCache:
    """``get``/``put`` keyed by (credential id, email) and a window ``(lo, hi)``; ``ttl`` 0 disables it."""

    def __init__(self, ttl: float, clock: Monotonic, max_keys: int = MAX_KEYS) -> None:
        self.ttl = ttl
        self._clock = clock
        self._max_keys = max_keys
        self._entries: dict[tuple[str, str], list[_Entry]] = {}

    def get(self, credential_id: str, email: str, window: tuple[int, int]) -> MailboxBusy | None:
        if self.ttl <= 0:
            return None
        now = self._clock()
        lo, hi = window
        for entry in self._entries.get((credential_id, email), ()):
            if entry.expires > now and entry.lo <= lo and hi <= entry.hi:
                return entry.answer
        return None

    def put(self, credential_id: str, email: str, window: tuple[int, int], answer: MailboxBusy) -> None:
        if self.ttl <= 0:
            return
        now = self._clock()
        key = (credential_id, email)
        kept = [e for e in self._entries.get(key, ()) if e.expires > now]
        kept.append(_Entry(window[0], window[1], now + self.ttl, answer))
        self._entries[key] = kept[-4:]
        if len(self._entries) > self._max_keys:
            self._prune(now)

    def _prune(self, now: float) -> None:
        self._entries = {k: v for k, v in self._entries.items() if any(e.expires > now for e in v)}
        while len(self._entries) > self._max_keys:
            self._entries.pop(next(iter(self._entries)))
