"""The demo organization, set up through gRPC only: the steps ``make run`` seeds (scripts/devstack.py)
and the e2e story (tests/e2e/test_story.py) tells, so both use one copy.

Every step is find-or-create (by listing what exists), so running it again against the same stack
changes nothing. The browser part of OAuth is played with httpx: the authorization URL is opened as a
seeded sandbox user (``login_hint``) and the sandbox's 302 is followed to identity's HTTP callback.

Why these grants:

* Google READ_WRITE uses a **service account with domain-wide delegation** (CreateServiceCredential):
  Read Write creates the event *in the organizer's own calendar, as the organizer*, for any organizer
  of the domain. A user's code-flow consent yields a USER_DELEGATED credential that can only ever act
  as that one user; the service account acts as whichever organizer books (JWT ``sub``).
* Microsoft FREE_BUSY uses **admin consent** (application permission ``Calendars.ReadBasic.All``):
  ``getSchedule`` then works for every mailbox of the tenant, not only the consenting admin's.
* Zoom uses a **server-to-server** app (account credentials): meetings are created for any Zoom user
  of the account, found by the organizer's email.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
from google.protobuf.duration_pb2 import Duration
from google.type import dayofweek_pb2, timeofday_pb2

from rendezvous.availability.v1 import availability_resources_pb2 as avr
from rendezvous.availability.v1 import availability_service_pb2 as av
from rendezvous.common.v1 import common_pb2 as common
from rendezvous.directory.v1 import directory_resources_pb2 as dres
from rendezvous.directory.v1 import directory_service_pb2 as dir_pb
from rendezvous.identity.v1 import identity_resources_pb2 as ires
from rendezvous.identity.v1 import identity_service_pb2 as id_pb
from rendezvous_client import Rendezvous, RendezvousError

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "libs" / "sandbox" / "fixtures" / "demo"

UNIT_NAME = "Northwind Traders (demo)"
INVITE_SENDER = "invites@rendezvous-demo.example"
GOOGLE_DOMAIN = "northwind.example"  # Google Workspace, READ_WRITE
MICROSOFT_DOMAIN = "contoso.example"  # Microsoft 365, FREE_BUSY
NO_ACCESS_DOMAIN = "fabrikam.example"  # no calendar access; SuccessFactors directory
GOOGLE_ADMIN = "grace@northwind.example"  # the Workspace admin the service account impersonates
GOOGLE_CUSTOMER = "C01northwind"
MICROSOFT_ADMIN = "megan@contoso.example"  # the Contoso admin who consents for the tenant
SF_API_SERVER = "https://api4.successfactors.example"  # any https URL: the sandbox stands in for it
SF_COMPANY, SF_CLIENT, SF_USER, SF_KEY = "FABRIKAM", "rendezvous-sf-client", "sfapi", "sandbox-sf-private-key-not-secret"
ZOOM_ACCOUNT, ZOOM_CLIENT, ZOOM_SECRET = "zoom-acct-1", "rendezvous-zoom-s2s", "rendezvous-zoom-s2s-secret"
#: The NO_ACCESS person whose working hours are set (London office hours).
RULES_EMAIL = "carla@fabrikam.example"
RULES_TIME_ZONE = "Europe/London"
#: One person of each calendar domain.
DEMO_GROUP = ("ada@northwind.example", "adele@contoso.example", "carla@fabrikam.example")

T = TypeVar("T")


@dataclass
class DemoOrg:
    """Ids of what the demo organization is made of."""

    org_unit_id: str = ""
    google_calendar_id: str = ""
    microsoft_calendar_id: str = ""
    no_access_calendar_id: str = ""
    successfactors_directory_id: str = ""
    graph_directory_id: str = ""
    zoom_conferencing_id: str = ""


# ------------------------------------------------------------------------------------------ browser


@dataclass(frozen=True)
class Browser:
    """The administrator's browser in an OAuth consent. ``rewrite`` turns a URL the services hand out
    into one this machine can open (under docker compose they name the sandbox by its service name)."""

    rewrite: Callable[[str], str] = lambda url: url
    timeout: float = 30.0

    async def consent(self, authorization_url: str, login_hint: str) -> httpx.Response:
        """Open the provider's page as ``login_hint`` (the sandbox consents at once and answers 302)
        and follow the redirect to identity's /oauth/callback; the page identity shows."""
        separator = "&" if "?" in authorization_url else "?"
        url = self.rewrite(f"{authorization_url}{separator}{httpx.QueryParams({'login_hint': login_hint})}")
        async with httpx.AsyncClient(follow_redirects=True, timeout=self.timeout) as browser:
            page = await browser.get(url)
        if page.status_code != 200 or "/oauth/callback" not in str(page.url):
            raise RuntimeError(f"the authorization did not complete: {page.status_code} at {page.url}: {page.text[:300]}")
        return page


async def until(check: Callable[[], Awaitable[T | None]], what: str, timeout: float = 20.0,
                interval: float = 0.1) -> T:  # fmt: skip
    """Polls ``check`` until it returns something truthy."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        found = await check()
        if found:
            return found
        if loop.time() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(interval)


# ---------------------------------------------------------------------------------- organization


async def ensure_unit(rdv: Rendezvous, name: str = UNIT_NAME, sender: str = INVITE_SENDER) -> dres.OrganizationalUnit:
    """The organizational unit named ``name`` (created with its invite sender address if missing)."""
    token = ""
    while True:
        page = await rdv.directory.ListOrganizationalUnits(
            dir_pb.ListOrganizationalUnitsRequest(page_size=1000, page_token=token))
        for unit in page.organizational_units:
            if unit.display_name == name:
                return unit
        token = page.next_page_token
        if not token:
            break
    created = await rdv.directory.CreateOrganizationalUnit(
        dir_pb.CreateOrganizationalUnitRequest(display_name=name, invite_sender_address=sender))
    return created.organizational_unit


async def _calendar_serving(rdv: Rendezvous, unit_id: str, domain: str) -> dres.CalendarConnection | None:
    page = await rdv.directory.ListCalendarServices(dir_pb.ListCalendarServicesRequest(org_unit_id=unit_id,
                                                                                      page_size=1000))
    return next((c for c in page.calendar_connections if domain in c.domains), None)


async def _wait_active(get: Callable[[], Awaitable[Any]], what: str) -> Any:
    """A connection once ACTIVE (reads check a pending authorization with identity)."""

    async def active() -> Any:
        connection = await get()
        return connection if connection.state == 2 else None  # STATE_ACTIVE is 2 for every connection kind

    return await until(active, f"{what} to become ACTIVE")


def google_service_account_key() -> str:
    """The sandbox's throwaway service account key file (JSON), as an administrator would upload it."""
    fixture = json.loads((FIXTURES / "google.json").read_text())
    key = dict(fixture["service_accounts"][0])
    for extra in ("customer", "delegated_scopes", "_comment"):
        key.pop(extra, None)
    return json.dumps(key)


async def connect_google_read_write(rdv: Rendezvous, unit_id: str,
                                    domain: str = GOOGLE_DOMAIN) -> dres.CalendarConnection:  # fmt: skip
    """Google READ_WRITE through a service account with domain-wide delegation (ACTIVE at once)."""
    existing = await _calendar_serving(rdv, unit_id, domain)
    if existing is not None:
        return existing
    credential = (await rdv.identity.CreateServiceCredential(id_pb.CreateServiceCredentialRequest(
        org_unit_id=unit_id, provider=common.PROVIDER_GOOGLE, purpose=ires.PURPOSE_CALENDAR,
        access_mode=common.CALENDAR_ACCESS_MODE_READ_WRITE,
        google_service_account=id_pb.GoogleServiceAccount(
            service_account_key_json=google_service_account_key(), impersonated_admin_email=GOOGLE_ADMIN,
            customer_id=GOOGLE_CUSTOMER),
    ))).credential  # fmt: skip
    connected = await rdv.directory.ConnectCalendarService(dir_pb.ConnectCalendarServiceRequest(
        org_unit_id=unit_id, provider=common.PROVIDER_GOOGLE, access_mode=common.CALENDAR_ACCESS_MODE_READ_WRITE,
        domains=[domain], credential_id=credential.id))  # fmt: skip
    return connected.calendar_connection


async def connect_microsoft_free_busy(rdv: Rendezvous, unit_id: str, browser: Browser, domain: str = MICROSOFT_DOMAIN,
                                      admin: str = MICROSOFT_ADMIN) -> dres.CalendarConnection:  # fmt: skip
    """Microsoft FREE_BUSY through tenant-wide admin consent, completed in the (sandbox) browser."""
    existing = await _calendar_serving(rdv, unit_id, domain)
    if existing is None:
        connected = await rdv.directory.ConnectCalendarService(dir_pb.ConnectCalendarServiceRequest(
            org_unit_id=unit_id, provider=common.PROVIDER_MICROSOFT,
            access_mode=common.CALENDAR_ACCESS_MODE_FREE_BUSY, domains=[domain],
            grant=common.AUTHORIZATION_GRANT_ADMIN_CONSENT))  # fmt: skip
        existing = connected.calendar_connection
        await browser.consent(connected.authorization_url, admin)
    connection_id = existing.id

    async def get() -> dres.CalendarConnection:
        return (await rdv.directory.GetCalendarService(dir_pb.GetCalendarServiceRequest(
            org_unit_id=unit_id, calendar_connection_id=connection_id))).calendar_connection  # fmt: skip

    connection: dres.CalendarConnection = await _wait_active(get, f"the {domain} calendar connection")
    return connection


async def connect_no_access(rdv: Rendezvous, unit_id: str, domain: str = NO_ACCESS_DOMAIN) -> dres.CalendarConnection:
    """A NO_ACCESS calendar connection: nothing to authorize, ACTIVE at once."""
    existing = await _calendar_serving(rdv, unit_id, domain)
    if existing is not None:
        return existing
    connected = await rdv.directory.ConnectCalendarService(dir_pb.ConnectCalendarServiceRequest(
        org_unit_id=unit_id, access_mode=common.CALENDAR_ACCESS_MODE_NO_ACCESS, domains=[domain]))  # fmt: skip
    return connected.calendar_connection


async def _directory(rdv: Rendezvous, unit_id: str, provider: int) -> dres.DirectoryConnection | None:
    page = await rdv.directory.ListDirectoryServices(dir_pb.ListDirectoryServicesRequest(org_unit_id=unit_id,
                                                                                        page_size=1000))
    return next((c for c in page.directory_connections if c.provider == provider), None)


async def connect_successfactors_directory(rdv: Rendezvous, unit_id: str,
                                           domain: str = NO_ACCESS_DOMAIN) -> dres.DirectoryConnection:  # fmt: skip
    """SAP SuccessFactors as the directory of ``domain`` (SAML bearer credential; ACTIVE at once)."""
    existing = await _directory(rdv, unit_id, common.PROVIDER_SUCCESSFACTORS)
    if existing is not None:
        return existing
    credential = (await rdv.identity.CreateServiceCredential(id_pb.CreateServiceCredentialRequest(
        org_unit_id=unit_id, provider=common.PROVIDER_SUCCESSFACTORS, purpose=ires.PURPOSE_DIRECTORY,
        success_factors=id_pb.SuccessFactorsGrant(api_server_url=SF_API_SERVER, company_id=SF_COMPANY,
                                                  client_id=SF_CLIENT, user_id=SF_USER, private_key_pem=SF_KEY),
    ))).credential  # fmt: skip
    connected = await rdv.directory.ConnectDirectoryService(dir_pb.ConnectDirectoryServiceRequest(
        org_unit_id=unit_id, provider=common.PROVIDER_SUCCESSFACTORS, credential_id=credential.id,
        domains=[domain], api_server_url=SF_API_SERVER))  # fmt: skip
    return connected.directory_connection


async def connect_graph_directory(rdv: Rendezvous, unit_id: str, browser: Browser, domain: str = MICROSOFT_DOMAIN,
                                  admin: str = MICROSOFT_ADMIN) -> dres.DirectoryConnection:  # fmt: skip
    """Microsoft Entra (Graph) as the directory of ``domain``, with its rooms; admin consent."""
    existing = await _directory(rdv, unit_id, common.PROVIDER_MICROSOFT)
    if existing is None:
        connected = await rdv.directory.ConnectDirectoryService(dir_pb.ConnectDirectoryServiceRequest(
            org_unit_id=unit_id, provider=common.PROVIDER_MICROSOFT, domains=[domain],
            grant=common.AUTHORIZATION_GRANT_ADMIN_CONSENT))  # fmt: skip
        existing = connected.directory_connection
        await browser.consent(connected.authorization_url, admin)
    connection_id = existing.id

    async def get() -> dres.DirectoryConnection:
        return (await rdv.directory.GetDirectoryService(dir_pb.GetDirectoryServiceRequest(
            org_unit_id=unit_id, directory_connection_id=connection_id))).directory_connection  # fmt: skip

    connection: dres.DirectoryConnection = await _wait_active(get, f"the {domain} directory connection")
    return connection


async def sync_directory(rdv: Rendezvous, unit_id: str, connection_id: str, timeout: float = 30.0) -> dres.SyncRun:
    """Runs a full sync now (after the run the connection started by itself, if still going) and
    waits for its outcome (SUCCEEDED expected)."""

    async def start() -> dres.SyncRun | None:
        try:
            return (await rdv.directory.SyncDirectory(dir_pb.SyncDirectoryRequest(
                org_unit_id=unit_id, directory_connection_id=connection_id, full=True))).sync_run  # fmt: skip
        except RendezvousError as error:
            if error.reason == "SYNC_IN_PROGRESS":
                return None
            raise

    started = await until(start, "the running sync to end", timeout=timeout)

    async def finished() -> dres.SyncRun | None:
        run = (await rdv.directory.GetSyncRun(dir_pb.GetSyncRunRequest(
            org_unit_id=unit_id, sync_run_id=started.id))).sync_run  # fmt: skip
        return run if run.state != dres.SyncRun.STATE_RUNNING else None

    run: dres.SyncRun = await until(finished, f"sync run {started.id}", timeout=timeout)
    if run.state != dres.SyncRun.STATE_SUCCEEDED:
        raise RuntimeError(f"sync run {run.id} ended {dres.SyncRun.State.Name(run.state)}: "
                           f"{run.failure_reason} {run.failure_message}")  # fmt: skip
    return run


async def connect_zoom(rdv: Rendezvous, unit_id: str) -> dres.ConferencingConnection:
    """Zoom through a server-to-server app (account credentials; ACTIVE at once)."""
    page = await rdv.directory.ListConferencingServices(dir_pb.ListConferencingServicesRequest(
        org_unit_id=unit_id, page_size=1000))  # fmt: skip
    existing = next((c for c in page.conferencing_connections if c.service == common.CONFERENCING_SERVICE_ZOOM), None)
    if existing is not None:
        return existing
    credential = (await rdv.identity.CreateServiceCredential(id_pb.CreateServiceCredentialRequest(
        org_unit_id=unit_id, provider=common.PROVIDER_ZOOM, purpose=ires.PURPOSE_CONFERENCING,
        zoom_server_to_server=id_pb.ZoomServerToServer(account_id=ZOOM_ACCOUNT, client_id=ZOOM_CLIENT,
                                                       client_secret=ZOOM_SECRET),
    ))).credential  # fmt: skip
    connected = await rdv.directory.ConnectConferencingService(dir_pb.ConnectConferencingServiceRequest(
        org_unit_id=unit_id, service=common.CONFERENCING_SERVICE_ZOOM, credential_id=credential.id))  # fmt: skip
    return connected.conferencing_connection


def weekdays(start: str, end: str) -> list[avr.WeeklyPeriod]:
    """Monday to Friday from ``start`` to ``end`` (``HH:MM``)."""
    def time_of_day(text: str) -> timeofday_pb2.TimeOfDay:
        hours, minutes = (int(x) for x in text.split(":"))
        return timeofday_pb2.TimeOfDay(hours=hours, minutes=minutes)

    return [avr.WeeklyPeriod(day_of_week=day, start_time=time_of_day(start), end_time=time_of_day(end))
            for day in range(dayofweek_pb2.MONDAY, dayofweek_pb2.FRIDAY + 1)]  # fmt: skip


async def set_working_hours(rdv: Rendezvous, unit_id: str, email: str = RULES_EMAIL,
                            time_zone: str = RULES_TIME_ZONE, start: str = "09:00",
                            end: str = "17:00") -> avr.AvailabilityRules:  # fmt: skip
    """Weekday working hours in the person's own time zone (replacing any rules)."""
    answer = await rdv.availability.SetAvailabilityRules(av.SetAvailabilityRulesRequest(
        org_unit_id=unit_id, email=email,
        rules=avr.AvailabilityRules(time_zone=time_zone, weekly_periods=weekdays(start, end))))  # fmt: skip
    return answer.rules


async def seed_demo(rdv: Rendezvous, browser: Browser | None = None, log: Callable[[str], None] = lambda _: None,
                    unit_name: str = UNIT_NAME) -> DemoOrg:
    """The whole demo organization: unit, the three calendar domains, SuccessFactors and Graph
    directories (synced), Zoom and London working hours for the NO_ACCESS user. Idempotent."""
    browser = browser or Browser()
    org = DemoOrg()
    unit = await ensure_unit(rdv, unit_name)
    org.org_unit_id = unit.id
    log(f"organizational unit {unit.id} ({unit.display_name})")
    org.google_calendar_id = (await connect_google_read_write(rdv, unit.id)).id
    org.microsoft_calendar_id = (await connect_microsoft_free_busy(rdv, unit.id, browser)).id
    org.no_access_calendar_id = (await connect_no_access(rdv, unit.id)).id
    log(f"calendars: {GOOGLE_DOMAIN} READ_WRITE, {MICROSOFT_DOMAIN} FREE_BUSY, {NO_ACCESS_DOMAIN} NO_ACCESS")
    sf = await connect_successfactors_directory(rdv, unit.id)
    graph = await connect_graph_directory(rdv, unit.id, browser)
    org.successfactors_directory_id, org.graph_directory_id = sf.id, graph.id
    for connection in (sf, graph):
        run = await sync_directory(rdv, unit.id, connection.id)
        log(f"directory {common.Provider.Name(connection.provider).removeprefix('PROVIDER_')} synced: "
            f"{run.listed_count} users read")  # fmt: skip
    org.zoom_conferencing_id = (await connect_zoom(rdv, unit.id)).id
    await set_working_hours(rdv, unit.id)
    log(f"conferencing: Zoom; working hours of {RULES_EMAIL}: weekdays 09:00-17:00 {RULES_TIME_ZONE}")
    return org


# ------------------------------------------------------------------------------ calls to try


def next_wednesday(today: date) -> date:
    """The first Wednesday after ``today``: a working day for everyone in the demo."""
    return today + timedelta(days=(2 - today.weekday()) % 7 or 7)


def demo_calls(org_unit_id: str, day: date) -> list[tuple[str, str, str, dict[str, Any]]]:
    """Ready-to-paste calls against the demo organization: ``(title, service, method, JSON body)``.
    The booking carries a request_id, so pasting it twice returns the same booking."""
    start, end = f"{day.isoformat()}T08:00:00Z", f"{day.isoformat()}T18:00:00Z"
    return [
        ("When are Ada (Google), Adele (Microsoft) and Carla (no access, London hours) all free?",
         "availability", "rendezvous.availability.v1.AvailabilityService/QueryAvailability",
         {"org_unit_id": org_unit_id,
          "participant_groups": [{"members": [{"email": e} for e in DEMO_GROUP]}],
          "query_periods": [{"start_time": start, "end_time": end}], "duration": "1800s",
          "response_format": "RESPONSE_FORMAT_SLOTS", "start_interval": "1800s", "max_results": 4}),
        ("Adele (FREE_BUSY) books them with Zoom: iMIP invites land in var/mail/",
         "booking", "rendezvous.booking.v1.BookingService/CreateBooking",
         {"org_unit_id": org_unit_id, "organizer_email": "adele@contoso.example",
          "attendees": [{"email": "ada@northwind.example"}, {"email": "carla@fabrikam.example"}],
          "start_time": f"{day.isoformat()}T11:00:00Z", "end_time": f"{day.isoformat()}T11:30:00Z",
          "time_zone": "Europe/London", "summary": "Rendezvous demo", "conferencing": "CONFERENCING_CHOICE_ZOOM",
          "request_id": f"demo-booking-{day.isoformat()}"}),
        ("The unit's bookings", "booking", "rendezvous.booking.v1.BookingService/ListBookings",
         {"org_unit_id": org_unit_id}),
    ]  # fmt: skip


def grpcurl_command(grpcurl: str, address: str, token: str, method: str, body: dict[str, Any]) -> list[str]:
    """The grpcurl command line (argv) of one call."""
    return [grpcurl, "-plaintext", "-H", f"authorization: Bearer {token}", "-d", json.dumps(body), address, method]


def duration(**kw: float) -> Duration:
    d = Duration()
    d.FromTimedelta(timedelta(**kw))
    return d


def member_group(emails: Sequence[str]) -> av.ParticipantGroup:
    return av.ParticipantGroup(members=[av.Member(email=e) for e in emails])
