"""Who sees what, where: every role x place for a customer card and a list, admin commands, the audit log.

The expectations are written out here as a table, independently of assistant/policy.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime

import pytest
from sqlalchemy import Engine, delete, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from assistant.commands.answer import answer
from assistant.commands.base import Context, Request, UsageError
from assistant.commands.registry import route
from assistant.jobs.refresh.run import RefreshSummary
from assistant.render.digest import digest_message
from assistant.views.digest import build_digest
from assistant.views.policy import mask_email, mask_phone
from db.access_models import AuditEntry, UserRole
from db.models import Customer

ADMIN, MANAGER, REP, MARKETER, VIEWER = "U0ADMIN99", "U0MANAGER", "U0REPONE1", "U0MARKET1", "U0VIEWER1"
OWNED, OTHER = "12748", "12557"
EMAIL, PHONE = "jane.doe@example.com", "+44 20 7946 0958"
PLACES = ("ephemeral", "im", "private", "public", "shared")
CARD = {  # role -> place -> (owned customer, someone else's customer); F full, M masked, - refused
    "admin": {"ephemeral": "FF", "im": "FF", "private": "MM", "public": "--", "shared": "--"},
    "manager": {"ephemeral": "FF", "im": "FF", "private": "MM", "public": "--", "shared": "--"},
    "rep": {"ephemeral": "FM", "im": "FM", "private": "MM", "public": "--", "shared": "--"},
    "marketer": {"ephemeral": "MM", "im": "MM", "private": "MM", "public": "--", "shared": "--"},
    "viewer": {"ephemeral": "--", "im": "--", "private": "--", "public": "--", "shared": "--"},
}
USERS = {"admin": ADMIN, "manager": MANAGER, "rep": REP, "marketer": MARKETER, "viewer": VIEWER}


@pytest.fixture
def context(refreshed: tuple[Engine, RefreshSummary, RefreshSummary]) -> Iterator[Context]:
    engine = refreshed[0]
    with Session(engine) as session:
        session.execute(delete(AuditEntry))  # other tests on this shared store leave their entries
        session.execute(update(Customer).where(Customer.external_id.in_([OWNED, OTHER]))
                        .values(email=EMAIL, phone=PHONE))
        session.execute(update(Customer).where(Customer.external_id == OWNED).values(owner=REP))
        for user, role in ((MANAGER, "manager"), (REP, "rep"), (MARKETER, "marketer")):
            session.add(UserRole(user_id=user, role=role, granted_by=ADMIN, granted_at=datetime(2026, 11, 1)))
        session.commit()
    yield Context(session_factory=sessionmaker(engine), clock=datetime.now, admins=frozenset({ADMIN}))
    with Session(engine) as session:
        session.execute(update(Customer).where(Customer.external_id.in_([OWNED, OTHER]))
                        .values(email=None, phone=None, owner=None))
        session.execute(delete(UserRole))
        session.execute(delete(AuditEntry))
        session.commit()


def _ask(context: Context, user: str, command: str, text: str, place: str = "ephemeral") -> str:
    spec, rest = route(command, text)
    if spec.check is not None:
        spec.check(rest)
    message = answer(spec.run, Request(user, "C0SOMEWHERE", rest, place=place), context)
    return message.text + " " + " ".join(str(b) for b in message.blocks)


@pytest.mark.parametrize("role", sorted(CARD))
def test_customer_cards_follow_the_role_and_place_table(context: Context, role: str) -> None:
    for place in PLACES:
        for customer, expected in zip((OWNED, OTHER), CARD[role][place], strict=True):
            shown = _ask(context, USERS[role], "/customer", customer, place)
            where = f"{role} in {place} asking for {customer}"
            if expected == "-":
                assert "Customer " + customer not in shown and EMAIL not in shown, where
                assert "direct message" in shown or "aggregates only" in shown, where
            elif expected == "F":
                assert EMAIL in shown and PHONE in shown, where
            else:
                assert EMAIL not in shown and PHONE not in shown, where
                assert mask_email(EMAIL) in shown and "******58" in shown, where


@pytest.mark.parametrize("role", sorted(CARD))
def test_lists_of_customers_are_aggregates_for_viewers_and_in_public(context: Context, role: str) -> None:
    for place in PLACES:
        at_risk = _ask(context, USERS[role], "/crm", "atrisk --top 3", place)
        segment = _ask(context, USERS[role], "/segments", "Champions", place)
        hidden = role == "viewer" or place in ("public", "shared")
        assert ("Accounts at risk" not in at_risk) == hidden, (role, place)
        assert "Champions" in segment and ("Most valuable members" not in segment) == hidden, (role, place)


def test_disclosures_and_commands_are_audited_without_what_was_typed(context: Context) -> None:
    _ask(context, REP, "/customer", OTHER)
    _ask(context, VIEWER, "/customer", OWNED)
    with context.session_factory() as session:
        entries = list(session.scalars(select(AuditEntry).order_by(AuditEntry.id)))
    disclosed = [e for e in entries if e.action == "disclosure"]
    assert [(e.user_id, e.customer_ref, e.detail["level"]) for e in disclosed] == [(REP, OTHER, "masked")]
    assert "email" in disclosed[0].detail["fields"]
    commands = [(e.user_id, e.what, e.detail["outcome"]) for e in entries if e.action == "command"]
    assert commands == [(REP, "run", "ok"), (VIEWER, "run", "user_error")]
    assert all(OWNED not in str(e.detail) and OTHER not in str(e.detail) for e in entries if e.action == "command")


REFUSE_AUDIT = {
    "sqlite": ["CREATE TRIGGER audit_full BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'audit log full'); END"],
    "postgresql": ["CREATE FUNCTION audit_full() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'audit log full'; END $$ "
                   "LANGUAGE plpgsql", "CREATE TRIGGER audit_full BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE "
                   "FUNCTION audit_full()"],
}
ALLOW_AUDIT = {"sqlite": ["DROP TRIGGER audit_full"],
               "postgresql": ["DROP TRIGGER audit_full ON audit_log", "DROP FUNCTION audit_full()"]}


def test_an_answer_that_cannot_be_put_on_record_is_not_shown(context: Context) -> None:
    with context.session_factory() as session:
        engine = session.get_bind()
    dialect = engine.dialect.name
    with engine.begin() as connection:  # the database itself refuses audit entries (a full disk, a revoked grant)
        for statement in REFUSE_AUDIT[dialect]:
            connection.exec_driver_sql(statement)
    try:
        card = _ask(context, ADMIN, "/customer", OWNED)
        assert "could not be recorded in the audit log, so it is not shown" in card
        assert "Customer " + OWNED not in card and EMAIL not in card
        assert "/crm help" in _ask(context, ADMIN, "/crm", "help")  # disclosing nobody, it is still answered
    finally:
        with engine.begin() as connection:
            for statement in ALLOW_AUDIT[dialect]:
                connection.exec_driver_sql(statement)
    assert "Customer " + OWNED in _ask(context, ADMIN, "/customer", OWNED)


def test_only_admins_manage_roles_and_read_the_audit(context: Context) -> None:
    refused = _ask(context, MANAGER, "/crm", f"admin grant <@{VIEWER}|vic> rep")
    assert "needs the admin role" in refused and f"<@{ADMIN}>" in refused
    granted = _ask(context, ADMIN, "/crm", f"admin grant <@{VIEWER}|vic> rep")
    assert f"<@{VIEWER}> is now rep (was viewer, the default)" in granted
    assert "Customer " + OTHER in _ask(context, VIEWER, "/customer", OTHER)  # the new role applies at once
    roles = _ask(context, ADMIN, "/crm", "admin roles")
    assert f"<@{ADMIN}>: admin (CRM_ADMINS)" in roles and f"<@{VIEWER}>: rep" in roles
    assert "back to the default role (viewer)" in _ask(context, ADMIN, "/crm", f"admin revoke <@{VIEWER}>")
    audit = _ask(context, ADMIN, "/crm", f"admin audit --user <@{ADMIN}>")
    assert "role: grant rep" in audit and "role: revoke" in audit
    for bad, words in ((f"grant <@{VIEWER}> emperor", "no role"), ("grant jane rep", "mention the person"),
                       ("audit --since yesterday", "YYYY-MM-DD"), ("promote", "unknown admin command")):
        with pytest.raises(UsageError, match=words):
            spec, rest = route("/crm", "admin " + bad)
            assert spec.check is not None
            spec.check(rest)


def test_roles_granted_to_a_slack_user_group_reach_its_members(context: Context) -> None:
    memberships = {"U0GROUPIE": frozenset({"S0SALES01", "S0MARKET1"}), "U0LONER01": frozenset()}
    grouped = replace(context, groups_of=lambda user: memberships.get(user, frozenset()))
    assert "aggregates only" in _ask(grouped, "U0GROUPIE", "/customer", OTHER)  # no group role yet: viewer
    said = _ask(grouped, ADMIN, "/crm", "admin grant <!subteam^S0MARKET1|@marketing> marketer")
    assert "<!subteam^S0MARKET1> is now marketer" in said and "Its members have this role" in said
    assert mask_email(EMAIL) in _ask(grouped, "U0GROUPIE", "/customer", OTHER)
    _ask(grouped, ADMIN, "/crm", "admin grant <!subteam^S0SALES01|@sales> manager")  # the most privileged wins
    assert EMAIL in _ask(grouped, "U0GROUPIE", "/customer", OTHER)
    _ask(grouped, ADMIN, "/crm", "admin grant <@U0GROUPIE> viewer")  # a personal role wins over the groups'
    assert "aggregates only" in _ask(grouped, "U0GROUPIE", "/customer", OTHER)
    assert "aggregates only" in _ask(grouped, "U0LONER01", "/customer", OTHER)
    roles = _ask(grouped, ADMIN, "/crm", "admin roles")
    assert "<!subteam^S0SALES01>: manager" in roles and "<!subteam^S0MARKET1>: marketer" in roles
    assert "back to the default" in _ask(grouped, ADMIN, "/crm", "admin revoke <!subteam^S0SALES01>")


def test_masks_keep_only_what_identifies_nothing() -> None:
    assert mask_email("jane.doe@example.com") == "j***@example.com"
    assert mask_phone("+44 20 7946 0958") == "******58"
    assert mask_email(None) is None and mask_phone("") == ""


def test_small_groups_are_not_described_in_channels(context: Context) -> None:
    with context.session_factory() as session:
        small = session.execute(
            select(Customer.country, func.count()).where(Customer.country.is_not(None))
            .group_by(Customer.country).having(func.count() < 5).limit(1)).one()
    country = small[0]
    private = _ask(context, ADMIN, "/segments", f"--country {country!r}", "ephemeral")
    public = _ask(context, ADMIN, "/segments", f"--country {country!r}", "public")
    assert "Other (" not in private and "Other (" in public and "groups under 5" in public
    members = _ask(context, ADMIN, "/segments", f"Champions --country {country!r}", "private")
    assert "fewer than 5 customers" in members or "No Champions customers" in members


def test_small_digest_movements_are_summed_in_channels(
        refreshed: tuple[Engine, RefreshSummary, RefreshSummary]) -> None:
    with Session(refreshed[0]) as session:
        digest = build_digest(session)
    smallest = int(digest.moves["customers"].min())
    floor = smallest + 1
    in_channel = json.dumps(digest_message(digest, False, min_group=floor).blocks)
    in_dm = json.dumps(digest_message(digest, True, min_group=1).blocks)
    assert "smaller moves" in in_channel and "smaller moves" not in in_dm
