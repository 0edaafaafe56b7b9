"""The pure sync rules (domain/sync.py), including properties over generated directories."""

from datetime import UTC, datetime, timedelta
from itertools import count

from hypothesis import given
from hypothesis import strategies as st

from services.directory.domain.model import (
    Account,
    AccountSource,
    AccountState,
    ConnectionState,
    DirectoryConnection,
    Provider,
)
from services.directory.domain.sync import (
    DirectoryUser,
    Offboarding,
    Scope,
    UserStatus,
    decide_offboarding,
    plan_page,
)

T0 = datetime(2026, 3, 1, tzinfo=UTC)
CONNECTION = DirectoryConnection(
    id="dir", org_unit_id="ou", credential_id="c", authorization_id="", authorization_url="",
    state=ConnectionState.ACTIVE, state_message="", create_time=T0, update_time=T0, disconnect_time=None,
    request_id="", revoke_pending=False, provider=Provider.GOOGLE, domains=("a.example",),
    sync_interval=timedelta(hours=1), max_deactivation_ratio=0.1, api_server_url="", cursor="",
    next_sync_time=None, last_sync_run_id="", last_success_time=None, last_full_sync_time=None,
)  # fmt: skip
SCOPE = Scope(frozenset({"a.example"}))


def account(n: int, email: str, state: AccountState, external_id: str = "", source=AccountSource.GOOGLE_WORKSPACE,
            connection: str = "dir") -> Account:  # fmt: skip
    if source is AccountSource.MANUAL:
        return Account(f"acc-{n}", "ou", email, "", "", state, source, "", "", T0, T0, None)
    return Account(f"acc-{n}", "ou", email, "", "", state, source, external_id or f"g-{n}", connection, T0, T0, None)


def plan(users, existing=()):
    ids = count(1)
    by_external = {a.external_id: a for a in existing if a.directory_connection_id == "dir" and a.external_id}
    by_email = {a.email: a for a in existing}
    return plan_page(users, CONNECTION, SCOPE, by_external, by_email, T0, lambda: f"new-{next(ids)}")


def test_a_user_outside_the_domains_gets_no_account_and_loses_the_one_it_had():
    had = account(1, "ada@a.example", AccountState.ACTIVE)
    result = plan([DirectoryUser("g-1", "ada@elsewhere.example", "Ada", UserStatus.ACTIVE),
                   DirectoryUser("g-2", "bob@elsewhere.example", "Bob", UserStatus.ACTIVE)], [had])  # fmt: skip
    assert result.creates == []
    assert result.offboard == {"acc-1": Offboarding(AccountState.ACTIVE, AccountState.DEACTIVATED)}


def test_two_users_claiming_one_email_in_a_page_create_one_account_and_one_error():
    result = plan([DirectoryUser("g-1", "x@a.example", "", UserStatus.ACTIVE),
                   DirectoryUser("g-2", "X@a.example", "", UserStatus.ACTIVE)])  # fmt: skip
    assert [a.email for a in result.creates] == ["x@a.example"]
    assert [e.external_id for e in result.errors] == ["g-2"]


def test_a_deactivated_account_of_the_same_directory_is_taken_over_by_a_new_user_with_its_email():
    old = account(1, "x@a.example", AccountState.DEACTIVATED, external_id="g-old")
    result = plan([DirectoryUser("g-new", "x@a.example", "X", UserStatus.ACTIVE)], [old])
    assert [(a.id, a.external_id, a.state) for a in result.updates] == [("acc-1", "g-new", AccountState.ACTIVE)]


def test_an_account_claimed_by_id_and_by_email_in_one_page_is_planned_once():
    old = account(3, "a@a.example", AccountState.DEACTIVATED, external_id="g-3")
    result = plan([DirectoryUser("g-2", "a@a.example", "", UserStatus.ACTIVE),
                   DirectoryUser("g-3", "c@a.example", "", UserStatus.ACTIVE)], [old])  # fmt: skip
    assert [(a.id, a.external_id) for a in result.updates] == [("acc-3", "g-2")]
    assert [e.external_id for e in result.errors] == ["g-3"]


def test_an_unchanged_user_is_counted_and_not_written():
    same = account(1, "x@a.example", AccountState.ACTIVE)
    result = plan([DirectoryUser("g-1", "x@a.example", "", UserStatus.ACTIVE)], [same])
    assert (result.updates, result.unchanged, result.kept) == ([], 1, ["acc-1"])


def test_the_safety_figure_counts_only_accounts_leaving_active():
    targets = {"a": Offboarding(AccountState.ACTIVE, AccountState.DEACTIVATED),
               "b": Offboarding(AccountState.SUSPENDED, AccountState.DEACTIVATED),
               "c": Offboarding(AccountState.ACTIVE, AccountState.SUSPENDED)}  # fmt: skip
    assert decide_offboarding(targets, 20, 0.1, False).allowed
    stopped = decide_offboarding(targets, 19, 0.1, False)
    assert (stopped.allowed, stopped.would_deactivate) == (False, 2)
    assert decide_offboarding(targets, 19, 0.1, True).allowed


emails = st.sampled_from(["a@a.example", "b@a.example", "c@a.example", "d@b.example", "bad", ""])
users = st.lists(st.builds(DirectoryUser, st.sampled_from(["g-1", "g-2", "g-3", "g-4"]), emails, st.just(""),
                           st.sampled_from(list(UserStatus))), max_size=8)  # fmt: skip
existing = st.lists(st.builds(lambda n, e, s, src: account(n, e, s, source=src),
                              st.integers(1, 4), st.sampled_from(["a@a.example", "b@a.example", "c@a.example"]),
                              st.sampled_from(list(AccountState)),
                              st.sampled_from([AccountSource.GOOGLE_WORKSPACE, AccountSource.MANUAL])),
                    max_size=4, unique_by=(lambda a: a.id, lambda a: a.email))  # fmt: skip


@given(users, existing)
def test_a_plan_never_makes_an_email_twice_nor_offboards_what_is_deactivated(page, accounts):
    result = plan(page, accounts)
    created = [a.email for a in result.creates]
    taken = {a.email for a in accounts}
    assert len(created) == len(set(created))
    assert not set(created) & taken
    assert all(SCOPE.covers(e) for e in created)
    by_id = {a.id: a for a in accounts}
    assert all(by_id[i].state is not AccountState.DEACTIVATED for i in result.offboard)
    final_emails = [a.email for a in result.updates] + created
    untouched = [a.email for a in accounts if a.id not in {u.id for u in result.updates}]
    assert len(final_emails + untouched) == len(set(final_emails + untouched))


@given(st.integers(0, 50), st.integers(0, 200), st.floats(0.01, 1.0), st.booleans())
def test_offboarding_beyond_the_share_is_allowed_only_when_forced(leaving, active, ratio, forced):
    targets = {str(n): Offboarding(AccountState.ACTIVE, AccountState.DEACTIVATED) for n in range(leaving)}
    decision = decide_offboarding(targets, active, ratio, forced)
    assert decision.would_deactivate == leaving
    assert decision.allowed == (forced or leaving == 0 or leaving <= ratio * active)
