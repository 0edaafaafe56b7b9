"""The story of the spec, told end to end on the local stack: the sandbox, the mail sink and the four
services as processes, driven through gRPC only. Each step asserts what the provider sandbox and the
inboxes actually received (the sandbox's admin API and the mail directory are read, never written,
except that the test plays the administrator's browser during OAuth consent).

The steps build on each other, in order, on one stack per database (a failed step skips the rest):

 1. an organizational unit with its invite sender address;
 2. calendars: Google READ_WRITE (service account with domain-wide delegation, so events can be
    created as *any* organizer of the domain), Microsoft FREE_BUSY (tenant-wide admin consent, so
    getSchedule reads every mailbox) and NO_ACCESS;
 3. directories: SuccessFactors (fabrikam) and Graph (contoso, with rooms) synced; a NO_ACCESS
    organizer verified by DIRECTORY, a manual account by EMAIL_CONFIRMATION (the mailed link);
 4. Zoom (server-to-server) as the conferencing service;
 5. London working hours for a NO_ACCESS person;
 6. a group across the three domains: provider busy time and the rules are respected;
 7. a booking in each mode (Google + Meet + room; Microsoft + Zoom; NO_ACCESS) and two refusals;
 8. replies by SMTP and by IngestEmail, reported back to the organizer;
 9. rescheduling: Google PATCH, REQUEST with a higher SEQUENCE, availability follows;
10. cancelling: Google DELETE, CANCEL with a higher SEQUENCE, Zoom meeting deleted.

The day is Wednesday 3 March 2027 (GMT in London, PST in Seattle): Ada's stand-up (09:30–09:45 UTC,
a weekly Google series) and Megan's daily sync (16:00–16:15 UTC, a Graph series) are in the fixture.

Runs on SQLite, and again with every service on its own fresh PostgreSQL database when
``RENDEZVOUS_TEST_POSTGRES_URL`` is set (``RENDEZVOUS_TARGET=compose``: against the running compose
topology, which is on PostgreSQL, with a fresh sandbox).
"""

from __future__ import annotations

import asyncio
import os
import re
import smtplib
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import grpc
import httpx
import psycopg2
import pytest
import pytest_asyncio
from google.protobuf.field_mask_pb2 import FieldMask
from sqlalchemy.engine import make_url

from rendezvous.availability.v1 import availability_resources_pb2 as avr
from rendezvous.availability.v1 import availability_service_pb2 as av
from rendezvous.booking.v1 import booking_resources_pb2 as bres
from rendezvous.booking.v1 import booking_service_pb2 as bk
from rendezvous.common.v1 import common_pb2 as common
from rendezvous.directory.v1 import directory_resources_pb2 as dres
from rendezvous.directory.v1 import directory_service_pb2 as dir_pb
from rendezvous.identity.v1 import identity_resources_pb2 as ires
from rendezvous.identity.v1 import identity_service_pb2 as id_pb
from rendezvous_client import Addresses, Rendezvous, RendezvousError
from sandbox.testing import SandboxAdmin
from scripts import demo_org
from scripts.demo_org import Browser
from scripts.devstack import SERVICES, Stack, target

from .grpcurl import binary
from .story import Inbox, Sandbox, itip_reply, periods, reply_address, ts

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

POSTGRES_ENV = "RENDEZVOUS_TEST_POSTGRES_URL"
DAY = "2027-03-03"
ADA, ALAN, GRACE = "ada@northwind.example", "alan@northwind.example", "grace@northwind.example"
ADELE, MEGAN = "adele@contoso.example", "megan@contoso.example"
CARLA, BEN, DAN, OLGA = "carla@fabrikam.example", "ben@fabrikam.example", "dan@fabrikam.example", "olga@fabrikam.example"
ROOM = "room-vega@contoso.example"  # rooms come from the Graph directory (places), the only room source
SENDER = "invites@northwind-traders.example"
ACTIVE = 2  # STATE_ACTIVE of every connection kind


def at(hhmm: str) -> Any:
    return ts(f"{DAY}T{hhmm}:00Z")


# ---------------------------------------------------------------------------------------- the stack


def _postgres_databases(base: str) -> tuple[dict[str, str], Any]:
    """A fresh database per service (as tests/conftest.py's postgres_url), and how to drop them."""
    url = make_url(base)
    admin = psycopg2.connect(host=url.host or "127.0.0.1", port=url.port or 5432, user=url.username or "postgres",
                             password=url.password or None, dbname=url.database or "postgres")  # fmt: skip
    admin.autocommit = True
    names = {service: f"rdv_story_{service}_{uuid.uuid4().hex[:8]}" for service in SERVICES}
    with admin.cursor() as cur:
        for name in names.values():
            cur.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with admin.cursor() as cur:
            for name in names.values():
                cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()

    urls = {s: url.set(drivername="postgresql+asyncpg", database=n).render_as_string(hide_password=False)
            for s, n in names.items()}  # fmt: skip
    return urls, drop


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def story_stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The stack as processes on free ports: every service on SQLite, or each on its own PostgreSQL."""
    var_dir = tmp_path_factory.mktemp(f"story-{request.param}")
    drop = None
    if target() == "compose":  # started by `make compose-up`; start() and stop() do nothing
        if request.param == "sqlite":
            pytest.skip("the compose topology runs on PostgreSQL")
        stack = Stack.compose(var_dir)
    elif request.param == "postgres":
        base = os.environ.get(POSTGRES_ENV)
        if not base:
            pytest.skip(f"{POSTGRES_ENV} is not set")
        urls, drop = _postgres_databases(base)
        stack = Stack.on_free_ports(var_dir, database_urls=urls)
    else:
        stack = Stack.on_free_ports(var_dir)
    try:
        stack.start()
        asyncio.run(stack.wait_ready(timeout=90))
        yield stack
    finally:
        stack.stop()
        if drop is not None:
            drop()


@dataclass
class Story:
    """The stack, the clients and what earlier steps made."""

    stack: Stack
    rdv: Rendezvous
    sandbox: Sandbox
    inbox: Inbox
    browser: Browser
    failures_before: int
    unit_id: str = ""
    ids: dict[str, str] = field(default_factory=dict)
    bookings: dict[str, bres.Booking] = field(default_factory=dict)

    async def booking(self, name: str) -> bres.Booking:
        answer = await self.rdv.booking.GetBooking(bk.GetBookingRequest(org_unit_id=self.unit_id,
                                                                        booking_id=self.bookings[name].id))
        return answer.booking

    async def delivered(self, name: str) -> bres.Booking:
        """The booking once its latest version reached the calendars or the mail server."""
        async def check() -> bres.Booking | None:
            booking = await self.booking(name)
            return booking if booking.delivery.state == bres.Delivery.STATE_DELIVERED else None

        found: bres.Booking = await demo_org.until(check, f"delivery of booking {name}")
        return found

    async def query(self, emails: list[str], start: str, end: str) -> av.QueryAvailabilityResponse:
        return await self.rdv.availability.QueryAvailability(av.QueryAvailabilityRequest(
            org_unit_id=self.unit_id, participant_groups=[demo_org.member_group(emails)],
            query_periods=[common.TimeRange(start_time=at(start), end_time=at(end))],
            duration=demo_org.duration(minutes=30)))  # fmt: skip

    async def verify(self, email: str) -> id_pb.VerifyOrganizerResponse:
        return await self.rdv.identity.VerifyOrganizer(id_pb.VerifyOrganizerRequest(org_unit_id=self.unit_id,
                                                                                    email=email))  # fmt: skip


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def story(story_stack: Stack, request: pytest.FixtureRequest) -> AsyncIterator[Story]:
    stack = story_stack
    addresses = Addresses(**{name: stack.address(name) for name in SERVICES})
    async with Rendezvous(addresses, stack.token) as rdv, SandboxAdmin(stack.sandbox_url) as admin:
        yield Story(stack, rdv, await Sandbox.from_now(admin), Inbox(stack.mail()), Browser(stack.browser_url),
                    request.session.testsfailed)  # fmt: skip


@pytest.fixture(autouse=True)
def _one_step_after_another(story: Story, request: pytest.FixtureRequest) -> None:
    if request.session.testsfailed > story.failures_before:
        pytest.skip("an earlier step of the story failed")


async def refused(call: Any) -> RendezvousError:
    with pytest.raises(RendezvousError) as caught:
        await call
    return caught.value


# ------------------------------------------------------------------------------------------ 1. unit


async def test_01_an_organizational_unit_is_created_with_its_invite_sender_address(story: Story):
    name = f"Northwind Traders (story {uuid.uuid4().hex[:6]})"
    unit = await demo_org.ensure_unit(story.rdv, name, SENDER)
    story.unit_id = unit.id
    again = await demo_org.ensure_unit(story.rdv, name, SENDER)  # find-or-create: no second unit
    read = (await story.rdv.directory.GetOrganizationalUnit(dir_pb.GetOrganizationalUnitRequest(
        org_unit_id=unit.id))).organizational_unit  # fmt: skip
    assert again.id == unit.id
    assert (read.display_name, read.invite_sender_address) == (name, SENDER)


# ------------------------------------------------------------------------------------- 2. calendars


async def test_02a_google_read_write_is_connected_with_a_delegating_service_account(story: Story):
    connection = await demo_org.connect_google_read_write(story.rdv, story.unit_id)
    story.ids["google"] = connection.id
    assert (connection.state, connection.access_mode, list(connection.domains)) == (
        ACTIVE, common.CALENDAR_ACCESS_MODE_READ_WRITE, ["northwind.example"])
    credential = (await story.rdv.identity.GetCredential(id_pb.GetCredentialRequest(
        org_unit_id=story.unit_id, credential_id=connection.credential_id))).credential  # fmt: skip
    assert credential.kind == ires.Credential.KIND_ORGANIZATION_WIDE
    # Domain-wide delegation takes the API scope only (email and profile are sign-in scopes).
    assert list(credential.required_scopes) == ["https://www.googleapis.com/auth/calendar"]
    # Identity proved the key at Google: a JWT bearer grant acting as the Workspace admin.
    [proof] = [r for r in await story.sandbox.requests("google.oauth.token")
               if r.get("form", {}).get("grant_type") == "urn:ietf:params:oauth:grant-type:jwt-bearer"]  # fmt: skip
    assert proof["status"] == 200
    assert (await story.verify(ADA)).method == id_pb.VERIFICATION_METHOD_CALENDAR_AUTHORIZATION


async def test_02b_microsoft_free_busy_is_connected_by_tenant_wide_admin_consent(story: Story):
    connection = await demo_org.connect_microsoft_free_busy(story.rdv, story.unit_id, story.browser)
    story.ids["microsoft"] = connection.id
    assert (connection.state, connection.access_mode, connection.provider) == (
        ACTIVE, common.CALENDAR_ACCESS_MODE_FREE_BUSY, common.PROVIDER_MICROSOFT)
    [consent] = await story.sandbox.requests("microsoft.adminconsent")
    assert consent["query"]["login_hint"] == demo_org.MICROSOFT_ADMIN and consent["status"] == 302
    credential = (await story.rdv.identity.GetCredential(id_pb.GetCredentialRequest(
        org_unit_id=story.unit_id, credential_id=connection.credential_id))).credential  # fmt: skip
    assert credential.kind == ires.Credential.KIND_ORGANIZATION_WIDE
    assert credential.tenant_id == "11111111-1111-1111-1111-111111111111"
    assert "Calendars.ReadBasic.All" in credential.granted_scopes
    verified = await story.verify(ADELE)
    assert (verified.verified, verified.method) == (True, id_pb.VERIFICATION_METHOD_CALENDAR_AUTHORIZATION)


async def test_02c_a_no_access_domain_needs_no_authorization(story: Story):
    connection = await demo_org.connect_no_access(story.rdv, story.unit_id)
    story.ids["no_access"] = connection.id
    assert (connection.state, connection.credential_id, connection.authorization_id) == (ACTIVE, "", "")
    # No directory yet: a NO_ACCESS person is not a verified organizer.
    unverified = await story.verify(CARLA)
    assert (unverified.verified, unverified.access_mode) == (False, common.CALENDAR_ACCESS_MODE_NO_ACCESS)


# ----------------------------------------------------------------------------------- 3. directories


async def accounts(story: Story, connection_id: str = "") -> dict[str, dres.Account]:
    page = await story.rdv.directory.ListAccounts(dir_pb.ListAccountsRequest(
        org_unit_id=story.unit_id, directory_connection_id=connection_id, page_size=1000))  # fmt: skip
    return {a.email: a for a in page.accounts}


async def test_03a_successfactors_is_synced_and_verifies_no_access_organizers(story: Story):
    connection = await demo_org.connect_successfactors_directory(story.rdv, story.unit_id)
    story.ids["successfactors"] = connection.id
    run = await demo_org.sync_directory(story.rdv, story.unit_id, connection.id)
    assert run.state == dres.SyncRun.STATE_SUCCEEDED and run.listed_count >= 8
    synced = await accounts(story, connection.id)
    assert {CARLA, BEN, "mei@fabrikam.example", "newhire@fabrikam.example"} <= set(synced)
    assert synced[CARLA].source == dres.Account.SOURCE_SUCCESSFACTORS and synced[CARLA].external_id == "cgrant"
    assert DAN not in synced or synced[DAN].state != dres.Account.STATE_ACTIVE  # status f in SuccessFactors
    assert not any(e.endswith("@contractor.example") for e in synced)  # not a domain of this directory
    odata = await story.sandbox.requests("successfactors.User.list")
    assert odata and all(r["status"] == 200 for r in odata)
    verified = await story.verify(CARLA)
    assert (verified.verified, verified.method) == (True, id_pb.VERIFICATION_METHOD_DIRECTORY)


async def test_03b_graph_is_synced_with_its_rooms(story: Story):
    connection = await demo_org.connect_graph_directory(story.rdv, story.unit_id, story.browser)
    story.ids["graph"] = connection.id
    run = await demo_org.sync_directory(story.rdv, story.unit_id, connection.id)
    assert run.state == dres.SyncRun.STATE_SUCCEEDED
    synced = await accounts(story, connection.id)
    assert {ADELE, MEGAN} <= set(synced)
    assert synced[ADELE].external_id == "aaaaaaaa-0000-4000-8000-000000000002"  # keyed by object id
    rooms = (await story.rdv.directory.ListRooms(dir_pb.ListRoomsRequest(org_unit_id=story.unit_id))).rooms
    vega = next(r for r in rooms if r.email == ROOM)
    assert (vega.display_name, vega.capacity, vega.building) == ("Vega", 4, "Building 1")


async def test_03c_a_manual_account_is_verified_by_the_mailed_confirmation_link(story: Story):
    await story.rdv.directory.CreateAccount(dir_pb.CreateAccountRequest(
        org_unit_id=story.unit_id, email=OLGA, display_name="Olga Ivanova", time_zone="Europe/London"))  # fmt: skip
    before = await story.verify(OLGA)
    assert (before.verified, before.reason) == (False, "EMAIL_NOT_CONFIRMED")
    await story.rdv.identity.SendConfirmationLink(id_pb.SendConfirmationLinkRequest(org_unit_id=story.unit_id,
                                                                                    email=OLGA))  # fmt: skip
    [mail] = await story.inbox.wait(lambda m: OLGA in m.recipients, 1, f"to {OLGA}")
    link = re.search(r"https?://\S+/confirm\?token=\S+", mail.text())
    assert link, mail.text()
    async with httpx.AsyncClient() as browser:
        page = await browser.get(story.stack.browser_url(link.group(0)))
    assert page.status_code == 200 and "confirmed" in page.text
    after = await story.verify(OLGA)
    assert (after.verified, after.method) == (True, id_pb.VERIFICATION_METHOD_EMAIL_CONFIRMATION)


# ---------------------------------------------------------------------------------- 4. conferencing


async def test_04_zoom_is_connected_with_a_server_to_server_app(story: Story):
    connection = await demo_org.connect_zoom(story.rdv, story.unit_id)
    story.ids["zoom"] = connection.id
    assert (connection.state, connection.service) == (ACTIVE, common.CONFERENCING_SERVICE_ZOOM)
    tokens = await story.sandbox.requests("zoom.oauth.token")
    grants = [{**r["query"], **r.get("form", {})} for r in tokens if r["status"] == 200]
    assert {"grant_type": "account_credentials", "account_id": demo_org.ZOOM_ACCOUNT}.items() <= grants[-1].items()


# ----------------------------------------------------------------------------------------- 5. rules


async def test_05_a_no_access_person_keeps_london_working_hours(story: Story):
    rules = await demo_org.set_working_hours(story.rdv, story.unit_id, CARLA, "Europe/London", "09:00", "17:00")
    assert (rules.time_zone, len(rules.weekly_periods)) == ("Europe/London", 5)


# ------------------------------------------------------------------------------------ 6. availability


async def test_06_a_group_across_the_three_domains_gets_only_times_everyone_is_free(story: Story):
    answer = await story.query([ADA, MEGAN, CARLA], "08:00", "18:00")
    # 09:30-09:45 Ada's stand-up (Google series), 16:00-16:15 Megan's daily sync (Graph series);
    # nothing before 09:00 or after 17:00: Carla's London hours (GMT in March).
    assert periods(answer) == [("09:00", "09:30"), ("09:45", "16:00"), ("16:15", "17:00")]
    diagnostics = {d.email: d for d in answer.member_diagnostics}
    assert all(d.status == avr.MemberDiagnostics.STATUS_OK for d in diagnostics.values())
    assert avr.SOURCE_PROVIDER_FREE_BUSY in diagnostics[ADA].sources_used
    assert avr.SOURCE_PROVIDER_FREE_BUSY in diagnostics[MEGAN].sources_used
    assert avr.SOURCE_PROVIDER_FREE_BUSY not in diagnostics[CARLA].sources_used  # NO_ACCESS reads nothing
    free_busy = (await story.sandbox.requests("google.freeBusy"))[-1]
    assert [i["id"] for i in free_busy["json"]["items"]] == [ADA]
    assert await story.sandbox.acting_as(free_busy) == ADA  # delegation as a member of the batch
    schedule = (await story.sandbox.requests("microsoft.getSchedule"))[-1]
    assert schedule["json"]["schedules"] == [MEGAN]


# ---------------------------------------------------------------------------------------- 7. bookings


async def test_07a_google_read_write_makes_a_native_event_with_meet_and_a_room(story: Story):
    created = (await story.rdv.booking.CreateBooking(bk.CreateBookingRequest(
        org_unit_id=story.unit_id, organizer_email=ADA,
        attendees=[bres.Attendee(email=ALAN), bres.Attendee(email=MEGAN, display_name="Megan Bowen")],
        room_emails=[ROOM], start_time=at("10:00"), end_time=at("10:30"), time_zone="Europe/London",
        summary="Roadmap review", conferencing=bres.CONFERENCING_CHOICE_DEFAULT, request_id="story-google",
    ))).booking  # fmt: skip
    story.bookings["google"] = created
    booking = await story.delivered("google")
    assert booking.delivery.method == bres.Delivery.METHOD_PROVIDER_EVENT
    assert booking.conferencing.service == common.CONFERENCING_SERVICE_GOOGLE_MEET
    assert booking.conferencing.state == bres.Conferencing.STATE_CREATED
    assert booking.conferencing.join_url.startswith("https://meet.google.com/")
    [insert] = await story.sandbox.requests("google.events.insert")
    assert insert["path"].endswith(f"/calendars/{ADA}/events")
    assert insert["query"] == {"sendUpdates": "all", "conferenceDataVersion": "1"}
    assert await story.sandbox.acting_as(insert) == ADA  # in the organizer's calendar, as the organizer
    event = (await story.sandbox.google_events())[booking.delivery.provider_event_id]["event"]
    assert {a["email"]: a.get("resource", False) for a in event["attendees"]} == {
        ALAN: False, MEGAN: False, ROOM: True}
    assert event["hangoutLink"] == booking.conferencing.join_url
    assert event["start"]["dateTime"].startswith(f"{DAY}T10:00:00")
    # The room had to be free: its Graph free/busy was read (asked through the room's own mailbox).
    room_reads = [r for r in await story.sandbox.requests("microsoft.getSchedule") if r["json"]["schedules"] == [ROOM]]
    assert room_reads and all(r["status"] == 200 for r in room_reads)


async def test_07b_microsoft_free_busy_emails_invites_with_a_zoom_meeting(story: Story):
    created = (await story.rdv.booking.CreateBooking(bk.CreateBookingRequest(
        org_unit_id=story.unit_id, organizer_email=ADELE,
        attendees=[bres.Attendee(email=ADA, display_name="Ada Lovelace"), bres.Attendee(email=CARLA)],
        start_time=at("11:00"), end_time=at("11:30"), time_zone="Europe/London", summary="Vendor sync",
        conferencing=bres.CONFERENCING_CHOICE_ZOOM, request_id="story-microsoft",
    ))).booking  # fmt: skip
    story.bookings["microsoft"] = created
    assert created.delivery.method == bres.Delivery.METHOD_EMAIL_INVITE
    conf = created.conferencing
    assert (conf.service, conf.state) == (common.CONFERENCING_SERVICE_ZOOM, bres.Conferencing.STATE_CREATED)
    meeting = (await story.sandbox.zoom_meetings())[conf.meeting_id]
    assert meeting["meeting"]["host_email"] == ADELE and meeting["meeting"]["join_url"] == conf.join_url
    assert meeting["meeting"]["start_time"] == f"{DAY}T11:00:00Z"
    invites = await story.inbox.invites(created.delivery.ical_uid, "REQUEST", 3)
    assert set(invites) == {ADELE, ADA, CARLA}  # the organizer too: it lands pending in her calendar
    for invite in invites.values():
        assert invite.sequence == 0 and invite.start.isoformat() == f"{DAY}T11:00:00+00:00"
        assert reply_address(invite) == SENDER and invite.organizer.params["CN"] == "Adele Vance"
        assert invite.partstats() == {ADELE: "NEEDS-ACTION", ADA: "NEEDS-ACTION", CARLA: "NEEDS-ACTION"}
        assert conf.join_url in invite.text() and conf.join_url in str(invite.event.get("LOCATION"))
    assert (await story.sandbox.admin.created("microsoft"))["events"] == []  # FREE_BUSY writes nothing


async def test_07c_no_access_emails_invites_without_conferencing(story: Story):
    created = (await story.rdv.booking.CreateBooking(bk.CreateBookingRequest(
        org_unit_id=story.unit_id, organizer_email=CARLA,
        attendees=[bres.Attendee(email=MEGAN), bres.Attendee(email=BEN)],
        start_time=at("13:00"), end_time=at("13:30"), summary="Hiring plan", request_id="story-no-access",
    ))).booking  # fmt: skip
    story.bookings["no_access"] = created
    assert created.conferencing.state == bres.Conferencing.STATE_NOT_REQUESTED
    invites = await story.inbox.invites(created.delivery.ical_uid, "REQUEST", 3)
    assert set(invites) == {CARLA, MEGAN, BEN}
    assert all("zoom.us" not in i.text() for i in invites.values())


async def test_07d_rooms_outside_read_write_and_taken_slots_are_refused(story: Story):
    rooms = await refused(story.rdv.booking.CreateBooking(bk.CreateBookingRequest(
        org_unit_id=story.unit_id, organizer_email=ADELE, room_emails=["room-orion@contoso.example"],
        start_time=at("14:00"), end_time=at("14:30"), summary="Rooms by mail?")))  # fmt: skip
    assert (rooms.code, rooms.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "ROOMS_NOT_SUPPORTED_IN_MODE")
    taken = await refused(story.rdv.booking.CreateBooking(bk.CreateBookingRequest(
        org_unit_id=story.unit_id, organizer_email=CARLA, start_time=at("13:15"), end_time=at("13:45"),
        summary="Double booked")))  # fmt: skip
    assert (taken.code, taken.reason) == (grpc.StatusCode.ABORTED, "SLOT_UNAVAILABLE")
    assert taken.metadata["booking_id"] == story.bookings["no_access"].id
    listed = await story.rdv.booking.ListBookings(bk.ListBookingsRequest(org_unit_id=story.unit_id))
    assert len(listed.bookings) == 3


async def test_07e_the_native_event_sent_no_mail_from_rendezvous(story: Story):
    # By now the emailed bookings' mail has arrived; the Google one is Google's to send.
    mails = await story.inbox.all()
    assert not [m for m in mails if "Roadmap review" in str(m.message["Subject"] or "")]
    assert not [m for m in mails if ALAN in m.recipients]


# ----------------------------------------------------------------------------------------- 8. replies


async def test_08_replies_by_smtp_and_by_ingest_email_reach_the_booking_and_the_organizer(story: Story):
    booking = story.bookings["microsoft"]
    invites = await story.inbox.invites(booking.delivery.ical_uid, "REQUEST", 3)
    accepted = itip_reply(invites[ADA], ADA, "ACCEPTED")
    with smtplib.SMTP("127.0.0.1", story.stack.inbound_smtp_port, timeout=10) as smtp:
        refused_rcpts = smtp.sendmail(ADA, [reply_address(invites[ADA])], accepted)
    assert refused_rcpts == {}
    declined = await story.rdv.booking.IngestEmail(bk.IngestEmailRequest(
        raw_message=itip_reply(invites[CARLA], CARLA, "DECLINED", comment="On leave that week")))  # fmt: skip
    assert (declined.result, declined.response_status) == (bk.IngestEmailResponse.RESULT_APPLIED,
                                                           bres.RESPONSE_STATUS_DECLINED)  # fmt: skip

    async def both_answered() -> bres.Booking | None:
        current = await story.booking("microsoft")
        statuses = {a.email: a.response_status for a in current.attendees}
        return current if statuses == {ADA: bres.RESPONSE_STATUS_ACCEPTED, CARLA: bres.RESPONSE_STATUS_DECLINED} else None

    current = await demo_org.until(both_answered, "both answers on the booking")
    assert next(a.comment for a in current.attendees if a.email == CARLA) == "On leave that week"
    # The organizer's calendar hears of it: an updated REQUEST (same SEQUENCE) with the answers.
    await story.inbox.wait(
        lambda m: ADELE in m.recipients and m.uid == booking.delivery.ical_uid and m.method == "REQUEST"
        and m.partstats().get(ADA) == "ACCEPTED" and m.partstats().get(CARLA) == "DECLINED",
        1, "the organizer's updated REQUEST")  # fmt: skip
    # Carla declined: the booking no longer holds her time.
    busy = await story.rdv.booking.ListBusyPeriods(bk.ListBusyPeriodsRequest(
        org_unit_id=story.unit_id, emails=[CARLA],
        window=common.TimeRange(start_time=at("00:00"), end_time=ts(f"{DAY}T23:59:00Z"))))  # fmt: skip
    assert [p.booking_id for p in busy.busy_periods] == [story.bookings["no_access"].id]


# ------------------------------------------------------------------------------------- 9. reschedule


async def move(story: Story, name: str, start: str, end: str) -> bres.Booking:
    answer = await story.rdv.booking.UpdateBooking(bk.UpdateBookingRequest(
        org_unit_id=story.unit_id, booking_id=story.bookings[name].id,
        booking=bres.Booking(start_time=at(start), end_time=at(end)),
        update_mask=FieldMask(paths=["start_time", "end_time"]), request_id=f"story-move-{name}"))  # fmt: skip
    return answer.booking


async def test_09_rescheduling_patches_the_native_event_and_mails_a_higher_sequence(story: Story):
    await move(story, "google", "14:30", "15:00")
    google = await story.delivered("google")
    [patch] = await story.sandbox.requests("google.events.patch")
    assert patch["query"] == {"sendUpdates": "all"} and patch["path"].endswith(google.delivery.provider_event_id)
    event = (await story.sandbox.google_events())[google.delivery.provider_event_id]["event"]
    assert event["start"]["dateTime"].startswith(f"{DAY}T14:30:00")
    assert {a["email"] for a in event["attendees"]} == {ALAN, MEGAN, ROOM}

    moved = await move(story, "microsoft", "12:00", "12:30")
    assert moved.delivery.sequence == 1
    assert all(a.response_status == bres.RESPONSE_STATUS_NEEDS_ACTION for a in moved.attendees)
    invites = await story.inbox.invites(moved.delivery.ical_uid, "REQUEST", 3, sequence=1)
    assert set(invites) == {ADELE, ADA, CARLA}
    assert all(i.start.isoformat() == f"{DAY}T12:00:00+00:00" for i in invites.values())

    # A window never asked before, so the provider is read afresh: the new times are taken, the old
    # ones free again (07:00-19:00 for Ada and Adele, who has no rules and nothing that Wednesday).
    answer = await story.query([ADA, ADELE], "07:00", "19:00")
    assert periods(answer) == [("07:00", "09:30"), ("09:45", "12:00"), ("12:30", "14:30"), ("15:00", "19:00")]


# ----------------------------------------------------------------------------------------- 10. cancel


async def test_10_cancelling_deletes_the_native_event_and_mails_cancel_with_a_higher_sequence(story: Story):
    for name in ("google", "microsoft", "no_access"):
        cancelled = (await story.rdv.booking.CancelBooking(bk.CancelBookingRequest(
            org_unit_id=story.unit_id, booking_id=story.bookings[name].id, reason="Plans changed",
            request_id=f"story-cancel-{name}"))).booking  # fmt: skip
        assert cancelled.state == bres.Booking.STATE_CANCELLED
    google = await story.delivered("google")
    [delete] = await story.sandbox.requests("google.events.delete")
    assert delete["query"] == {"sendUpdates": "all"} and delete["path"].endswith(google.delivery.provider_event_id)
    assert delete["status"] == 204

    microsoft = story.bookings["microsoft"]
    cancels = await story.inbox.invites(microsoft.delivery.ical_uid, "CANCEL", 3, sequence=2)
    assert set(cancels) == {ADELE, ADA, CARLA}
    [zoom_delete] = await story.sandbox.requests("zoom.meetings.delete")
    assert zoom_delete["path"].endswith(f"/meetings/{microsoft.conferencing.meeting_id}")

    no_access = story.bookings["no_access"]
    assert set(await story.inbox.invites(no_access.delivery.ical_uid, "CANCEL", 3, sequence=1)) == {CARLA, MEGAN, BEN}
    busy = await story.rdv.booking.ListBusyPeriods(bk.ListBusyPeriodsRequest(
        org_unit_id=story.unit_id, emails=[ADA, ADELE, CARLA, ROOM],
        window=common.TimeRange(start_time=at("00:00"), end_time=ts(f"{DAY}T23:59:00Z"))))  # fmt: skip
    assert list(busy.busy_periods) == []
    # Created, moved and cancelled: Google told Alan each time, Rendezvous never mailed him.
    assert not [m for m in await story.inbox.all() if ALAN in m.recipients]


# ------------------------------------------------------------------------------------- the demo's calls


async def test_11_the_calls_make_run_prints_work_against_a_seeded_organization(story: Story):
    org = await demo_org.seed_demo(story.rdv, story.browser, unit_name=f"Demo for the story {story.unit_id}")
    again = await demo_org.seed_demo(story.rdv, story.browser, unit_name=f"Demo for the story {story.unit_id}")
    assert again == org  # idempotent: found, not made twice
    day = demo_org.next_wednesday(date.today())
    for title, service, method, body in demo_org.demo_calls(org.org_unit_id, day):
        argv = demo_org.grpcurl_command(binary(), story.stack.address(service), story.stack.token, method, body)
        result = await asyncio.to_thread(subprocess.run, argv, capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, f"{title}: {result.stderr}"
