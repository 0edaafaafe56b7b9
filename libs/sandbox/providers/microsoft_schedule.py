"""Free/busy index per mailbox and the pure ``getSchedule`` computation.

Each mailbox keeps its busy items (recurrences already expanded) sorted by start with a
parallel list of start times, so a window query is one ``bisect`` plus a short scan
(``max_len`` bounds how far back an overlapping item can start).
"""

from __future__ import annotations

import math
from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import tzinfo

from sandbox.providers.microsoft_time import graph_dt

#: availabilityView digit per status.
DIGIT = {"free": "0", "tentative": "1", "busy": "2", "oof": "3", "workingElsewhere": "4", "unknown": "2"}
#: Which status wins when several items share one interval (higher wins).
RANK = {"free": 0, "workingElsewhere": 1, "tentative": 2, "unknown": 3, "busy": 3, "oof": 4}
STATUSES = ("free", "tentative", "busy", "oof", "workingElsewhere", "unknown")


@dataclass(slots=True)
class Busy:
    """One occurrence on a mailbox's calendar."""

    start: float
    end: float
    status: str
    subject: str | None
    location: str | None
    is_private: bool
    event_id: str


@dataclass
class MailboxSchedule:
    """Sorted busy items of one mailbox."""

    items: list[Busy] = field(default_factory=list)
    starts: list[float] = field(default_factory=list)
    max_len: float = 0.0

    @classmethod
    def build(cls, items: list[Busy]) -> MailboxSchedule:
        """Index ``items`` (any order)."""
        items = sorted(items, key=lambda b: (b.start, b.end))
        return cls(items, [b.start for b in items], max((b.end - b.start for b in items), default=0.0))

    def overlapping(self, a: float, b: float) -> list[Busy]:
        """Items with ``start < b`` and ``end > a``, in start order."""
        lo = bisect_left(self.starts, a - self.max_len)
        hi = bisect_left(self.starts, b)
        return [it for it in self.items[lo:hi] if it.end > a and it.end > it.start]


def availability_view(items: list[Busy], a: float, b: float, step: float) -> str:
    """One digit per ``step`` seconds of ``[a, b)``: the strongest status overlapping each slot."""
    slots = max(0, math.ceil((b - a) / step))
    ranks = [-1] * slots
    for it in items:
        first = int((max(it.start, a) - a) // step)
        last = min(slots - 1, math.ceil((min(it.end, b) - a) / step) - 1)
        rank = RANK.get(it.status, 3)
        for i in range(first, last + 1):
            if rank > ranks[i]:
                ranks[i] = rank
    by_rank = {0: "0", 1: "4", 2: "1", 3: "2", 4: "3"}
    return "".join("0" if r < 0 else by_rank[r] for r in ranks)


def schedule_item(it: Busy, zone: tzinfo, zone_name: str) -> dict:
    """A ``scheduleItem`` as Graph returns it (private items hide subject and location)."""
    item: dict = {"isPrivate": it.is_private, "status": it.status}
    if not it.is_private:
        item["subject"] = it.subject or ""
        item["location"] = it.location or ""
    item["start"] = graph_dt(it.start, zone, zone_name)
    item["end"] = graph_dt(it.end, zone, zone_name)
    return item


def schedule_information(
    schedule_id: str,
    mailbox: MailboxSchedule,
    a: float,
    b: float,
    interval_minutes: int,
    zone: tzinfo,
    zone_name: str,
    working_hours: dict | None,
) -> dict:
    """The ``scheduleInformation`` entry for one mailbox over ``[a, b)``."""
    items = mailbox.overlapping(a, b)
    out: dict = {
        "scheduleId": schedule_id,
        "availabilityView": availability_view(items, a, b, interval_minutes * 60.0),
        "scheduleItems": [schedule_item(it, zone, zone_name) for it in items],
    }
    if working_hours is not None:
        out["workingHours"] = working_hours
    return out


def schedule_error(schedule_id: str, message: str, response_code: str) -> dict:
    """A per-schedule failure inside the 200 answer."""
    return {
        "scheduleId": schedule_id,
        "availabilityView": "",
        "scheduleItems": [],
        "error": {"message": message, "responseCode": response_code},
    }
