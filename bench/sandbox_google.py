"""Sandbox Google at scale, over real HTTP against ``python -m sandbox`` in its own process.

Figures:
- listing 100,000 seeded users through ``users.list`` (500 per page) — target < 10 s;
- ``freeBusy`` answers per second for one calendar-day — target >= 1,000/s;
- one ``freeBusy`` query for 50 calendars x 30 days — target < 250 ms.

The client is aiohttp: httpx's connection pool tops out near 500-700 small requests/s on its own,
which would measure the client rather than the sandbox.

Run: ``PYTHONPATH=libs:. .venv/bin/python -m bench.sandbox_google``
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench._report import report

BENCH = "sandbox_google"
USERS = 100_000
S = "https://www.googleapis.com/auth/"
GRACE, GRACE_ID = "grace@northwind.example", "103400000000000000002"
THROUGHPUT_SECONDS = 4.0
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "16"))
ROOT = Path(__file__).resolve().parent.parent


async def start_sandbox() -> tuple[asyncio.subprocess.Process, str]:
    """``python -m sandbox --port 0`` in a child process; the process and its base URL."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "libs")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sandbox",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        stdout=asyncio.subprocess.PIPE,
        env=env,
    )
    assert proc.stdout is not None
    line = json.loads(await asyncio.wait_for(proc.stdout.readline(), 30))
    return proc, str(line["url"])


def calendars_fixture(count: int) -> dict[str, Any]:
    """``count`` users with busy weeks: a daily stand-up, a weekly series, an all-day event and singles."""
    users, calendars = [], []
    for n in range(count):
        email = f"bench{n:03d}@northwind.example"
        users.append(
            {
                "primaryEmail": email,
                "name": {"givenName": "Bench", "familyName": str(n)},
                "timeZone": "Europe/Berlin",
            }
        )
        events: list[dict[str, Any]] = [
            {"id": f"bstandup{n:03d}", "start": {"dateTime": "2026-01-05T09:00:00", "timeZone": "Europe/Berlin"},
             "end": {"dateTime": "2026-01-05T09:15:00", "timeZone": "Europe/Berlin"},
             "recurrence": ["RRULE:FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR"]},
            {"id": f"bweekly{n:03d}", "start": {"dateTime": "2026-01-06T14:00:00", "timeZone": "Europe/Berlin"},
             "end": {"dateTime": "2026-01-06T15:00:00", "timeZone": "Europe/Berlin"},
             "recurrence": ["RRULE:FREQ=WEEKLY;INTERVAL=1;BYDAY=TU,TH;UNTIL=20271231T000000Z"]},
            {"id": f"ballday{n:03d}", "start": {"date": "2026-10-15"}, "end": {"date": "2026-10-16"}},
        ]  # fmt: skip
        for day in range(1, 31, 3):
            events.append(
                {"id": f"bsingle{n:03d}d{day:02d}", "start": {"dateTime": f"2026-10-{day:02d}T11:00:00Z"},
                 "end": {"dateTime": f"2026-10-{day:02d}T12:30:00Z"}}
            )  # fmt: skip
        calendars.append({"id": email, "timeZone": "Europe/Berlin", "events": events})
    return {"users": users, "calendars": calendars}


async def list_users(client: aiohttp.ClientSession, token: str) -> tuple[int, float]:
    """Page through every user; (users seen, seconds)."""
    url = "/admin.googleapis.com/admin/directory/v1/users"
    headers = {"Authorization": f"Bearer {token}"}
    seen, page_token = 0, None
    started = time.perf_counter()
    while True:
        params = {
            "customer": "my_customer",
            "maxResults": "500",
            **({"pageToken": page_token} if page_token else {}),
        }
        async with client.get(url, params=params, headers=headers) as response:
            response.raise_for_status()
            page = await response.json()
        seen += len(page.get("users", []))
        page_token = page.get("nextPageToken")
        if not page_token:
            return seen, time.perf_counter() - started


async def freebusy_throughput(client: aiohttp.ClientSession, token: str, emails: list[str]) -> float:
    """One-calendar, one-day freeBusy answers per second with ``CONCURRENCY`` requests in flight."""
    headers = {"Authorization": f"Bearer {token}"}
    deadline = time.perf_counter() + THROUGHPUT_SECONDS
    done = 0

    async def worker(offset: int) -> None:
        nonlocal done
        n = offset
        while time.perf_counter() < deadline:
            day = 1 + n % 28
            calendar_id = emails[n % len(emails)]
            body = {
                "timeMin": f"2026-10-{day:02d}T00:00:00Z",
                "timeMax": f"2026-10-{day + 1:02d}T00:00:00Z",
                "items": [{"id": calendar_id}],
            }
            async with client.post(
                "/www.googleapis.com/calendar/v3/freeBusy", json=body, headers=headers
            ) as response:
                assert response.status == 200
                assert "busy" in (await response.json())["calendars"][calendar_id]
            done += 1
            n += CONCURRENCY

    started = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(CONCURRENCY)))
    return done / (time.perf_counter() - started)


async def wide_query(client: aiohttp.ClientSession, token: str, emails: list[str]) -> tuple[float, int]:
    """Median milliseconds of one 50-calendar x 30-day query, and the busy periods it returned."""
    body = {
        "timeMin": "2026-10-01T00:00:00Z",
        "timeMax": "2026-10-31T00:00:00Z",
        "items": [{"id": e} for e in emails],
    }
    headers = {"Authorization": f"Bearer {token}"}
    timings, periods = [], 0
    for _ in range(15):
        started = time.perf_counter()
        async with client.post(
            "/www.googleapis.com/calendar/v3/freeBusy", json=body, headers=headers
        ) as response:
            calendars = (await response.json())["calendars"]
        timings.append((time.perf_counter() - started) * 1000)
        assert len(calendars) == len(emails) and all("errors" not in c for c in calendars.values())
        periods = sum(len(c["busy"]) for c in calendars.values())
    return statistics.median(timings), periods


async def main() -> None:
    """Start the sandbox, seed it, measure, stop it."""
    proc, base_url = await start_sandbox()
    try:
        connector = aiohttp.TCPConnector(limit=CONCURRENCY)
        timeout = aiohttp.ClientTimeout(total=60)
        async with aiohttp.ClientSession(base_url, connector=connector, timeout=timeout) as client:

            async def admin(path: str, body: dict[str, Any]) -> Any:
                async with client.post(f"/_admin/{path}", json=body) as response:
                    response.raise_for_status()
                    return await response.json()

            bulk = {"tenant": "C01northwind", "domain": "northwind.example", "count": USERS, "prefix": "user"}
            seeded = await admin("bulk-users/google", bulk)
            caller = {"provider": "google", "subject": GRACE_ID, "email": GRACE}
            admin_token = (
                await admin("tokens", {**caller, "scopes": [S + "admin.directory.user.readonly"]})
            )["token"]
            fixture = calendars_fixture(50)
            await admin("seed/google", fixture)
            emails = [u["primaryEmail"] for u in fixture["users"]]
            fb_token = (await admin("tokens", {**caller, "scopes": [S + "calendar.events.freebusy"]}))[
                "token"
            ]

            seen, seconds = await list_users(client, admin_token)
            print(
                f"bulk-users generated {seeded['created']} users in {seeded['seconds']} s; listed {seen}",
                flush=True,
            )
            met = seconds < 10 and seen >= USERS
            report(BENCH, "users.list 100,000 users (500/page) seconds", seconds, "s", "< 10 s", met)

            await wide_query(client, fb_token, emails)  # warm the per-calendar busy indexes
            rate = await freebusy_throughput(client, fb_token, emails)
            report(
                BENCH, "freeBusy one calendar-day answers per second", rate, "/s", ">= 1000/s", rate >= 1000
            )

            millis, periods = await wide_query(client, fb_token, emails)
            print(f"50 x 30-day query returned {periods} busy periods", flush=True)
            report(
                BENCH, "freeBusy 50 calendars x 30 days, one query", millis, "ms", "< 250 ms", millis < 250
            )
    finally:
        proc.terminate()
        await proc.wait()


if __name__ == "__main__":
    asyncio.run(main())
