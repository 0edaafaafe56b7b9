"""VerifyOrganizer's rules, and confirmation links that are signed, hashed, single-use and expiring."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from kit.errors import FailedPrecondition, InvalidArgument, NotFound, ResourceExhausted, Unavailable
from services.identity.domain.scopes import AccessMode, Provider
from services.identity.domain.secrets import secret_hash
from services.identity.domain.verification import (
    AccountInfo,
    AccountSource,
    AccountState,
    CalendarRoute,
    ConnectionState,
    MailboxCheck,
    Resolution,
    VerificationMethod,
    decide,
)
from tests.unit.identity.test_tokens import ORG, connected

EMAIL = "ada@contoso.example"
ACTIVE_SYNCED = AccountInfo("acc-1", AccountState.ACTIVE, AccountSource.MICROSOFT_ENTRA)


def route(mode=AccessMode.FREE_BUSY, state=ConnectionState.ACTIVE, credential="cred-1", provider=Provider.MICROSOFT):
    return CalendarRoute("conn-1", provider if mode is not AccessMode.NO_ACCESS else None, mode,
                         credential if mode is not AccessMode.NO_ACCESS else "", state)  # fmt: skip



@pytest.mark.parametrize(
    "resolution, mailbox, confirmed, expected",
    [
        (Resolution(ACTIVE_SYNCED, None), MailboxCheck.NOT_APPLICABLE, "yes", (False, None, "EMAIL_DOMAIN_NOT_SERVED")),
        (Resolution(None, route()), MailboxCheck.CONFIRMED, None, (True, "CALENDAR_AUTHORIZATION", "")),
        (Resolution(ACTIVE_SYNCED, route()), MailboxCheck.NOT_FOUND, None, (True, "DIRECTORY", "")),
        (Resolution(None, route()), MailboxCheck.NOT_FOUND, None, (False, None, "MAILBOX_NOT_FOUND")),
        (Resolution(None, route(AccessMode.NO_ACCESS)), MailboxCheck.NOT_APPLICABLE, "yes",
         (True, "EMAIL_CONFIRMATION", "")),
        (Resolution(None, route(AccessMode.NO_ACCESS)), MailboxCheck.NOT_APPLICABLE, None,
         (False, None, "EMAIL_NOT_CONFIRMED")),
        (Resolution(AccountInfo("acc-1", AccountState.SUSPENDED, AccountSource.GOOGLE_WORKSPACE),
                    route(AccessMode.NO_ACCESS)), MailboxCheck.NOT_APPLICABLE, "yes", (False, None, "ACCOUNT_NOT_ACTIVE")),
        (Resolution(AccountInfo("acc-1", AccountState.ACTIVE, AccountSource.MANUAL), route(AccessMode.NO_ACCESS)),
         MailboxCheck.NOT_APPLICABLE, None, (False, None, "EMAIL_NOT_CONFIRMED")),
        (Resolution(ACTIVE_SYNCED, route(state=ConnectionState.NEEDS_REAUTHORIZATION)), MailboxCheck.NOT_APPLICABLE,
         None, (False, None, "CREDENTIAL_NEEDS_REAUTHORIZATION")),
        (Resolution(ACTIVE_SYNCED, route(state=ConnectionState.PENDING_AUTHORIZATION)), MailboxCheck.NOT_APPLICABLE,
         None, (False, None, "CONNECTION_NOT_ACTIVE")),
        (Resolution(None, route()), MailboxCheck.CREDENTIAL_UNUSABLE, None,
         (False, None, "CREDENTIAL_NEEDS_REAUTHORIZATION")),
    ],
)  # fmt: skip
def test_the_verification_rules(world, resolution, mailbox, confirmed, expected):
    until = world.clock.now() + timedelta(days=1) if confirmed else None
    outcome = decide(resolution, mailbox, until)
    assert (outcome.verified, outcome.method.value if outcome.method else None, outcome.reason) == expected


async def test_the_provider_confirms_a_mailbox_served_by_an_active_calendar_connection(world):
    credential = await connected(world)
    world.directory.answers[(ORG, EMAIL)] = Resolution(None, route(credential=credential.id))
    world.mailboxes.known.add(EMAIL)
    outcome = await world.verification.verify(ORG, "  ADA@contoso.example ")
    assert (outcome.verified, outcome.method) == (True, VerificationMethod.CALENDAR_AUTHORIZATION)
    assert outcome.access_mode is AccessMode.FREE_BUSY and outcome.calendar_connection_id == "conn-1"
    assert world.mailboxes.asked == [(Provider.MICROSOFT, "subject-1", EMAIL)]  # asked as the consenting user


async def test_the_credentials_own_user_is_confirmed_without_asking_the_provider(world):
    credential = await connected(world)  # its user is ada@northwind.example
    world.directory.answers[(ORG, "ada@northwind.example")] = Resolution(None, route(credential=credential.id))
    outcome = await world.verification.verify(ORG, "ada@northwind.example")
    assert outcome.method is VerificationMethod.CALENDAR_AUTHORIZATION and world.mailboxes.asked == []


async def test_an_unserved_domain_is_never_verified_even_with_a_confirmation(world):
    world.directory.answers[(ORG, EMAIL)] = Resolution(None, route(AccessMode.NO_ACCESS))
    token = await send_and_read_link(world)
    await world.verification.confirm(token)
    world.directory.answers[(ORG, EMAIL)] = Resolution(ACTIVE_SYNCED, None)  # the connection went away
    outcome = await world.verification.verify(ORG, EMAIL)
    assert (outcome.verified, outcome.reason) == (False, "EMAIL_DOMAIN_NOT_SERVED")


async def test_a_provider_outage_fails_the_call_unless_another_method_verifies(world):
    credential = await connected(world)
    world.mailboxes.fail_with = Unavailable("graph down", reason="PROVIDER_UNAVAILABLE")
    world.directory.answers[(ORG, EMAIL)] = Resolution(None, route(credential=credential.id))
    with pytest.raises(Unavailable):
        await world.verification.verify(ORG, EMAIL)
    world.directory.answers[(ORG, EMAIL)] = Resolution(ACTIVE_SYNCED, route(credential=credential.id))
    outcome = await world.verification.verify(ORG, EMAIL)
    assert outcome.method is VerificationMethod.DIRECTORY


async def test_directory_errors_pass_through(world):
    world.directory.fail_with = NotFound("no unit", reason="ORGANIZATIONAL_UNIT_NOT_FOUND")
    with pytest.raises(NotFound):
        await world.verification.verify(ORG, EMAIL)
    with pytest.raises(InvalidArgument) as error:
        await world.verification.verify(ORG, "not-an-email")
    assert error.value.violations[0].field == "email"


async def send_and_read_link(world, email=EMAIL) -> str:
    await world.verification.send_confirmation_link(ORG, email, "")
    body = world.mailer.sent[-1][2]
    link = next(line for line in body.splitlines() if "/confirm?token=" in line)
    return parse_qs(urlsplit(link).query)["token"][0]


async def test_a_confirmation_link_is_mailed_and_only_its_hash_is_stored(world):
    world.directory.answers[(ORG, EMAIL)] = Resolution(None, route(AccessMode.NO_ACCESS))
    expire = await world.verification.send_confirmation_link(ORG, EMAIL, "r1")
    assert expire == world.clock.now() + timedelta(hours=24)
    to, subject, body = world.mailer.sent[0]
    assert to == EMAIL and "http://127.0.0.1:8054/confirm?token=" in body
    token = parse_qs(urlsplit(next(w for w in body.split() if "token=" in w)).query)["token"][0]
    (row,) = world.db.confirmations.values()
    assert row["hash"] == secret_hash(token) and token not in str(row)
    confirmation = await world.verification.confirm(token)
    assert confirmation.valid_until == world.clock.now() + timedelta(days=90)
    outcome = await world.verification.verify(ORG, EMAIL)
    assert (outcome.method, outcome.expire_time) == (VerificationMethod.EMAIL_CONFIRMATION, confirmation.valid_until)


async def test_a_link_works_once(world):
    world.directory.answers[(ORG, EMAIL)] = Resolution(None, route(AccessMode.NO_ACCESS))
    token = await send_and_read_link(world)
    await world.verification.confirm(token)
    with pytest.raises(FailedPrecondition) as error:
        await world.verification.confirm(token)
    assert error.value.reason == "CONFIRMATION_TOKEN_USED"


async def test_a_late_link_is_expired(world):
    world.directory.answers[(ORG, EMAIL)] = Resolution(None, route(AccessMode.NO_ACCESS))
    token = await send_and_read_link(world)
    world.clock.advance(timedelta(hours=24))
    with pytest.raises(FailedPrecondition) as error:
        await world.verification.confirm(token)
    assert error.value.reason == "CONFIRMATION_TOKEN_EXPIRED"


@pytest.mark.parametrize("tamper", [
    lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # signature altered
    lambda t: ("B" if t[0] != "B" else "C") + t[1:],  # nonce altered
    lambda t: t.replace(".", ""),  # malformed
    lambda t: "",
])  # fmt: skip
async def test_a_tampered_token_is_invalid(world, tamper):
    world.directory.answers[(ORG, EMAIL)] = Resolution(None, route(AccessMode.NO_ACCESS))
    token = await send_and_read_link(world)
    with pytest.raises(InvalidArgument) as error:
        await world.verification.confirm(tamper(token))
    assert error.value.reason == "CONFIRMATION_TOKEN_INVALID"


async def test_a_signed_token_that_was_never_issued_is_invalid(world):
    nonce = "N" * 43
    forged = f"{nonce}.{world.signer.sign(b'rendezvous-identity-confirmation:' + nonce.encode())}"
    with pytest.raises(InvalidArgument) as error:
        await world.verification.confirm(forged)
    assert error.value.reason == "CONFIRMATION_TOKEN_INVALID"


async def test_a_refused_message_leaves_nothing_claiming_it_was_sent(world):
    world.directory.answers[(ORG, EMAIL)] = Resolution(None, route(AccessMode.NO_ACCESS))
    world.mailer.fail_with = Unavailable("smtp down", reason="MAIL_DELIVERY_FAILED", metadata={"email": EMAIL})
    with pytest.raises(Unavailable) as error:
        await world.verification.send_confirmation_link(ORG, EMAIL, "r1")
    assert error.value.reason == "MAIL_DELIVERY_FAILED"
    assert world.db.confirmations == {}
    world.mailer.fail_with = None
    await world.verification.send_confirmation_link(ORG, EMAIL, "r1")  # the retry runs again
    assert len(world.mailer.sent) == 1


async def test_links_go_only_to_served_domains_at_most_five_an_hour_and_once_per_request_id(world):
    with pytest.raises(FailedPrecondition) as error:
        await world.verification.send_confirmation_link(ORG, EMAIL, "")
    assert error.value.reason == "EMAIL_DOMAIN_NOT_SERVED"
    world.directory.answers[(ORG, EMAIL)] = Resolution(None, route(AccessMode.NO_ACCESS))
    first = await world.verification.send_confirmation_link(ORG, EMAIL, "same")
    assert await world.verification.send_confirmation_link(ORG, EMAIL, "same") == first
    for _ in range(4):
        await world.verification.send_confirmation_link(ORG, EMAIL, "")
    with pytest.raises(ResourceExhausted) as limited:
        await world.verification.send_confirmation_link(ORG, EMAIL, "")
    assert limited.value.reason == "CONFIRMATION_LINK_RATE_LIMITED"
    assert len(world.mailer.sent) == 5
