"""Microsoft Graph emulator at scale, over real HTTP against a sandbox process.

    PYTHONPATH=libs:. .venv/bin/python -m bench.sandbox_graph

The sandbox runs as its own process (``python -m sandbox --port 0``); this process is the client.
1. 100,000 users are bulk-seeded into Contoso; an app-only token (client credentials) pages
   ``/users?$select=…&$top=999`` through every ``@odata.nextLink``. Target: < 10 s.
2. 50 calendars get ~4 events per weekday for six weeks plus a daily recurring series;
   one-day ``getSchedule`` calls are fired from 8 concurrent tasks, with 20 mailboxes per call and
   with 1 mailbox per call (one answer = one calendar-day). Figure: calendar-days answered per
   second. Target: >= 1,000/s.
3. 50 calendars x 30 days as three calls (20 + 20 + 10), timed sequentially. Target: < 1 s.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import httpx

from bench._report import report

BENCH = "sandbox_graph"
TENANT = "11111111-1111-1111-1111-111111111111"
USERS = 100_000
CALENDARS = 50
CONCURRENCY = 8
SCHEDULE_CALLS = 400
ROOT = Path(__file__).resolve().parent.parent


def start_sandbox() -> tuple[subprocess.Popen[str], str]:
    """Start ``python -m sandbox`` on a free port; the process and its base URL."""
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'libs'}:{ROOT}"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "--host", "127.0.0.1", "--port", "0"],
        stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT,
    )  # fmt: skip
    assert proc.stdout is not None
    line = proc.stdout.readline()
    return proc, json.loads(line)["url"]


def calendar_events(n: int) -> list[dict[str, Any]]:
    """Events for mailbox ``cal{n}``: four a weekday from 2026-10-01 for six weeks, plus a daily standup."""
    mailbox = f"cal{n}@contoso.example"
    events: list[dict[str, Any]] = [{
        "mailbox": mailbox, "subject": "Standup", "showAs": "busy",
        "start": {"dateTime": "2026-09-01T09:00:00", "timeZone": "Pacific Standard Time"},
        "end": {"dateTime": "2026-09-01T09:15:00", "timeZone": "Pacific Standard Time"},
        "recurrence": {"pattern": {"type": "daily", "interval": 1},
                       "range": {"type": "endDate", "startDate": "2026-09-01", "endDate": "2026-12-31"}},
    }]  # fmt: skip
    day = date(2026, 10, 1)
    for _ in range(42):
        if day.weekday() < 5:
            for slot, status in ((10, "busy"), (12, "tentative"), (14, "busy"), (16, "oof" if n % 7 == 0 else "free")):
                hour = slot + n % 2
                events.append({
                    "mailbox": mailbox, "subject": f"Meeting {slot}", "showAs": status,
                    "start": {"dateTime": f"{day}T{hour:02d}:00:00", "timeZone": "Pacific Standard Time"},
                    "end": {"dateTime": f"{day}T{hour:02d}:45:00", "timeZone": "Pacific Standard Time"},
                })  # fmt: skip
        day += timedelta(days=1)
    return events


def schedule_body(mailboxes: list[str], start: date, days: int) -> dict[str, Any]:
    end = start + timedelta(days=days)
    return {"schedules": mailboxes, "availabilityViewInterval": 30,
            "startTime": {"dateTime": f"{start}T00:00:00", "timeZone": "Pacific Standard Time"},
            "endTime": {"dateTime": f"{end}T00:00:00", "timeZone": "Pacific Standard Time"}}  # fmt: skip


async def app_token(http: httpx.AsyncClient, base: str) -> str:
    response = await http.post(f"{base}/login.microsoftonline.com/{TENANT}/oauth2/v2.0/token", data={
        "client_id": "rendezvous-ms-client", "client_secret": "rendezvous-ms-secret",
        "grant_type": "client_credentials", "scope": "https://graph.microsoft.com/.default"})  # fmt: skip
    response.raise_for_status()
    return str(response.json()["access_token"])


async def bench_users(http: httpx.AsyncClient, base: str, headers: dict[str, str]) -> None:
    seeded = (await http.post(f"{base}/_admin/bulk-users/microsoft", json={
        "tenant": TENANT, "domain": "contoso.example", "count": USERS, "prefix": "user"})).json()  # fmt: skip
    print(f"seeded {seeded['created']} users in {seeded['seconds']} s", flush=True)
    started = time.perf_counter()
    url: str | None = f"{base}/graph.microsoft.com/v1.0/users?$select=id,displayName,mail,userPrincipalName,accountEnabled&$top=999"
    rows = pages = 0
    while url:
        response = await http.get(url, headers=headers)
        response.raise_for_status()
        body = response.json()
        rows += len(body["value"])
        pages += 1
        url = body.get("@odata.nextLink")
    elapsed = time.perf_counter() - started
    assert rows >= USERS + CALENDARS, rows
    print(f"listed {rows} users in {pages} pages", flush=True)
    report(BENCH, "page 100,000 users via /users $top=999", elapsed, "s", "< 10 s", elapsed < 10)


async def _throughput(url: str, headers: dict[str, str], mailboxes: list[str], per_call: int, calls: int) -> float:
    """Calendar-days answered per second by ``calls`` one-day calls of ``per_call`` mailboxes, 8 at a time.

    The load generator uses aiohttp's client: httpx costs about 1 ms of client CPU per request, which
    on a 2-core machine would measure the client rather than the emulator.
    """
    counter = iter(range(calls))
    answered = 0

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal answered
        for i in counter:
            group = [mailboxes[(i + k) % CALENDARS] for k in range(per_call)]
            body = schedule_body(group, date(2026, 10, 1) + timedelta(days=i % 30), 1)
            async with session.post(url, json=body, headers=headers) as response:
                response.raise_for_status()
                answered += len((await response.json())["value"])

    async with aiohttp.ClientSession() as session:
        started = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(CONCURRENCY)))
        return answered / (time.perf_counter() - started)


async def bench_schedules(http: httpx.AsyncClient, base: str, headers: dict[str, str]) -> None:
    (await http.post(f"{base}/_admin/bulk-users/microsoft", json={
        "tenant": TENANT, "domain": "contoso.example", "count": CALENDARS, "prefix": "cal"})).raise_for_status()  # fmt: skip
    events = [e for n in range(CALENDARS) for e in calendar_events(n)]
    (await http.post(f"{base}/_admin/seed/microsoft", json={"events": events})).raise_for_status()
    mailboxes = [f"cal{n}@contoso.example" for n in range(CALENDARS)]
    url = f"{base}/graph.microsoft.com/v1.0/users/cal0@contoso.example/calendar/getSchedule"
    prefer = {**headers, "Prefer": 'outlook.timezone="Pacific Standard Time"'}
    for n in range(3):  # warm the per-mailbox indexes
        (await http.post(url, json=schedule_body(mailboxes[n * 20 : n * 20 + 20], date(2026, 10, 1), 30),
                         headers=prefer)).raise_for_status()  # fmt: skip

    for per_call, calls, metric in (
        (20, SCHEDULE_CALLS, "getSchedule calendar-days/s (20 per call)"),
        (1, SCHEDULE_CALLS * 4, "getSchedule calendar-days/s (1 per call)"),
    ):
        rate = await _throughput(url, prefer, mailboxes, per_call, calls)
        report(BENCH, metric, rate, "/s", ">= 1000 /s", rate >= 1000)

    started = time.perf_counter()
    items = 0
    for chunk in (mailboxes[:20], mailboxes[20:40], mailboxes[40:]):
        response = await http.post(url, json=schedule_body(chunk, date(2026, 10, 1), 30), headers=prefer)
        response.raise_for_status()
        items += sum(len(v["scheduleItems"]) for v in response.json()["value"])
    elapsed_ms = (time.perf_counter() - started) * 1000
    print(f"50 calendars x 30 days: {items} schedule items", flush=True)
    report(BENCH, "getSchedule 50 calendars x 30 days (3 calls)", elapsed_ms, "ms", "< 1000 ms", elapsed_ms < 1000)


async def run() -> None:
    proc, base = start_sandbox()
    try:
        limits = httpx.Limits(max_connections=CONCURRENCY * 2)
        async with httpx.AsyncClient(timeout=60.0, limits=limits) as http:
            headers = {"Authorization": f"Bearer {await app_token(http, base)}"}
            await bench_schedules(http, base, headers)
            await bench_users(http, base, headers)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)


def main() -> None:
    """Run the three measurements and report them."""
    asyncio.run(run())


if __name__ == "__main__":
    main()
