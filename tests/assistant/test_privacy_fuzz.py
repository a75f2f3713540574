"""Hostile and random input through every command and button, as every role, in every place.

Every customer of the refreshed sample is given a recognisable name, e-mail and phone
(``Zq Person 12748``, ``zq12748@example.org``, ``+44 7700 912748``), a rep owns a tenth of them,
and each reply is checked against the privacy table written out here (independently of
assistant/policy.py): nothing beyond what the role may see in that place, no traceback, no
internal error, blocks within Slack's limits.  SQL injection strings must leave the store as
it was.  The full run (10,000 inputs per database) is under the ``slow`` marker; CI runs a
smaller one on every push.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from slack_sdk.models.blocks import Block
from sqlalchemy import Engine, delete, func, literal, select, update
from sqlalchemy.orm import Session, sessionmaker

from assistant.commands.answer import answer
from assistant.commands.base import Context, Request
from assistant.commands.insights import home
from assistant.commands.registry import BUTTONS, COMMANDS, route
from assistant.errors import UserFacingError
from assistant.jobs.refresh.run import RefreshSummary
from assistant.render.blocks import Message
from db import follow_ups
from db.access_models import AuditEntry, UserRole
from db.models import Customer, Order, OrderLine
from db.work_models import CustomerNote, FollowUp, PendingWrite

ADMIN, MANAGER, REP, MARKETER, VIEWER = "U0ADMIN99", "U0MANAGER", "U0REPONE1", "U0MARKET1", "U0VIEWER1"
USERS = {"admin": ADMIN, "manager": MANAGER, "rep": REP, "marketer": MARKETER, "viewer": VIEWER}
PLACES = ("ephemeral", "im", "private", "public", "shared")

NAME = re.compile(r"Zq Person (\d+)")
FULL_EMAIL = re.compile(r"zq(\d+)@example\.org")
MASKED_EMAIL = re.compile(r"z\*\*\*@example\.org")
FULL_PHONE = re.compile(r"\+44 7700 9(\d+)")
MASKED_PHONE = re.compile(r"\*{6}\d\d")
NOTE_TEXT = re.compile(r"Zq secret note (\d+)")
"""The text of the note each probed customer 12748 and 12557 has, and of the rep's follow-up on 12557:
shown where contact details may be."""
CUSTOMER_ID = re.compile(r"(?:Customer |/customer |• |\*|[Ff]or |\b\d{1,2}\. )(1[2-8]\d{3})\b")
"""Where replies put a customer id: a card's title, a suggested command, a list item (bulleted or
numbered, as in a ranking), bold, "for"."""
EXAMPLES = {f"`{example}`" for spec in COMMANDS.values() for example in spec.examples}
"""Documentation in usage and help messages (`` `/customer 12748` ``, in code quotes): the same words in
every store, not a disclosure; the same id anywhere else in a reply still counts."""


def owned(external_id: str) -> bool:
    """The rep owns the customers whose id ends in 7."""
    return external_id.endswith("7")


def may_see_individuals(role: str, place: str) -> bool:
    return role != "viewer" and place not in ("public", "shared")


def may_write(role: str, external_id: str) -> bool:
    """Notes and owners: managers and admins on anyone, a rep on the accounts they own."""
    return role in ("admin", "manager") or (role == "rep" and owned(external_id))


def may_see_contact_details(role: str, place: str, external_id: str) -> bool:
    if place not in ("ephemeral", "im"):
        return False
    return role in ("admin", "manager") or (role == "rep" and owned(external_id))


INJECTIONS = ["'; DROP TABLE customers; --", "1' OR '1'='1", "\" OR \"\"=\"", "12748; DELETE FROM orders",
              "%' UNION SELECT email FROM customers --", "$$; DROP TABLE orders; $$", "\\'; --", "1) OR (1=1",
              "admin'--", "' UNION SELECT NULL,NULL--", "12748' AND SLEEP(5)--", "') OR ('a'='a",
              "<script>alert(1)</script>", "${jndi:ldap://x}", "{{7*7}}", "`rm -rf /`", "%00", "%%", "_%_", "\x00",
              "<!channel>", "<@U0ADMIN99>", "*bold* _it_ ~x~", "🙂" * 50, "x" * 5000]
TEMPLATES = {  # every command, with the places its arguments go
    "/customer": ["{p}"], "/segments": ["{p}", "Champions --country {p}"], "/crm rules": ["{p}"],
    "/crm recommend": ["{p}"], "/crm atrisk": ["{p}", "--country {p}", "Champions --top {p}"],
    "/crm model-health": ["{p}"], "/crm help": ["{p}"],
    "/crm digest": ["subscribe {p}", "preview --segment {p}", "unsubscribe {p}", "list {p}", "{p}"],
    "/crm alert": ["add churn --to {p}", "add large-order --factor {p}", "remove {p}", "{p}"],
    "/crm admin": ["grant {p} rep", "grant <@U0VIEWER1> {p}", "revoke {p}", "audit --customer {p}",
                   "audit --since {p}", "{p}"],
    "/crm ask": ["{p}", "revenue in {p}", "top 5 customers in {p}", "tell me about {p}", "what goes with {p}"],
    "/crm note": ["{p} called", "12748 {p}", "\"{p}\" called"], "/crm notes": ["{p}"],
    "/crm assign": ["{p} <@U0MANAGER>", "12748 {p}"],
    "/crm remind": ["me to call {p} friday 10:00", "me {p}", "me to {p} 12748 tomorrow", "me about 12748 {p}"],
    "/crm tasks": ["{p}"],
}

WORDS = st.sampled_from([
    "12748", "12347", "12557", "12583", "13047", "14911", "17850", "99999", "Zq Person 127", "Zq Person 12748",
    "zq", "Person", "At risk", "Champions", "Loyal", "can't lose", "--top", "3", "0", "51", "--country", "Germany",
    "France", "United Kingdom", "85123A", "22728", "white hanging heart", "--segment", "weekly", "daily", "fri",
    "17:30", "Europe/London", "--quiet", "skip", "--allow-shared", "<#C0SALES01|sales>", "add", "churn",
    "--threshold", "0.5", "list", "all", "remove", "preview", "subscribe", "grant", "revoke", "audit", "roles",
    "<@U0VIEWER1|vic>", "rep", "admin", "--customer", "--since", "2026-11-01", "|", "|10", "|-1", "\"", "'",
    *INJECTIONS[:12]])
PEOPLE = st.sampled_from(["12748", "12347", "12557", "12583", "13047", "14911", "17850", "15311", "Zq Person 127",
                          "Zq Person 1234", "Zq Person 12748", "zq1274", "Champions", "At risk", "Loyal",
                          "Champions --top 3", "--country France", "Hibernating --country Germany", "12748|10"])
"""Input that reaches people: customers, segments, lists (so that most replies have something to hide)."""
TYPED = st.one_of(PEOPLE, PEOPLE, st.lists(WORDS, max_size=5).map(" ".join), st.text(max_size=80),
                  st.sampled_from(INJECTIONS))
COMMAND_PREFIXES = sorted({name.split(" ", 1)[1] + " " if " " in name else "" for name in COMMANDS}
                          | {"digest preview ", "digest subscribe ", "alert add ", "admin audit ", "admin grant "})


@pytest.fixture(scope="module")
def probed(refreshed: tuple[Engine, RefreshSummary, RefreshSummary]) -> Iterator[Context]:
    """Everyone named and reachable, a rep owning a tenth, the five roles; undone afterwards."""
    engine = refreshed[0]
    with Session(engine) as session:
        session.execute(update(Customer).values(
            name=literal("Zq Person ") + Customer.external_id, email=literal("zq") + Customer.external_id
            + literal("@example.org"), phone=literal("+44 7700 9") + Customer.external_id))
        session.execute(update(Customer).where(Customer.external_id.like("%7")).values(owner=REP))
        for ref in ("12748", "12557"):
            session.add(CustomerNote(customer_id=session.scalar(select(Customer.id).where(Customer.external_id == ref)),
                                     author=MANAGER, written_at=datetime(2026, 11, 2), text=f"Zq secret note {ref}",
                                     source_key=f"probe:{ref}"))
        follow_ups.add(session, session.scalars(select(Customer).where(Customer.external_id == "12557")).one(), REP,
                       REP, datetime(2030, 1, 7, 9), "UTC", "Zq secret note 12557", datetime(2026, 11, 2),
                       "probe:follow-up")
        session.commit()
    _reset_roles(engine)
    yield Context(session_factory=sessionmaker(engine), clock=datetime.now, admins=frozenset({ADMIN}))
    with Session(engine) as session:
        session.execute(update(Customer).values(name=None, email=None, phone=None, owner=None))
        session.execute(delete(CustomerNote))
        session.execute(delete(FollowUp))
        session.execute(delete(PendingWrite))
        session.execute(delete(UserRole))
        session.execute(delete(AuditEntry))
        session.commit()


def _engine(context: Context) -> Engine:
    with context.session_factory() as session:
        return session.get_bind()  # type: ignore[return-value]


def _reset_roles(engine: Engine) -> None:
    with Session(engine) as session:
        session.execute(delete(UserRole))
        for user, role in ((MANAGER, "manager"), (REP, "rep"), (MARKETER, "marketer")):
            session.add(UserRole(user_id=user, role=role, granted_by=ADMIN, granted_at=datetime(2026, 11, 1)))
        session.commit()


def _reply(context: Context, user: str, place: str, command: str, text: str) -> Message:
    try:
        spec, rest = route(command, text)
        if spec.check is not None:
            spec.check(rest)
    except UserFacingError as exc:  # answered in the acknowledgement: words only (as the app does)
        return Message(text=str(exc))
    return answer(spec.run, Request(user, "C0SOMEWHERE", rest, place=place), context, spec.name)


def check_reply(message: Message, role: str, place: str, typed: str) -> None:
    """The reply against the privacy table (what was typed may be echoed back: it is not a disclosure)."""
    shown = message.text + " " + json.dumps(message.blocks, ensure_ascii=False)
    echoes = {typed, json.dumps(typed, ensure_ascii=False)[1:-1], *typed.split(), *EXAMPLES}
    for part in sorted(echoes, key=len, reverse=True):
        if len(part) >= 5:
            shown = shown.replace(part, " ")
    where = f"{role} in {place}, typed {typed[:80]!r}: {shown[:300]}"
    assert "Traceback" not in shown and "Something went wrong" not in message.text, where
    assert message.text and len(message.blocks) <= 50, where
    for raw in message.blocks:
        Block.parse(raw).validate_json()  # type: ignore[union-attr]
    if not may_see_individuals(role, place):
        for pattern in (NAME, FULL_EMAIL, MASKED_EMAIL, FULL_PHONE, MASKED_PHONE, CUSTOMER_ID, NOTE_TEXT):
            assert not pattern.search(shown), f"{pattern.pattern} disclosed to {where}"
        return
    for pattern in (FULL_EMAIL, FULL_PHONE, NOTE_TEXT):
        for found in pattern.finditer(shown):
            assert may_see_contact_details(role, place, found.group(1)), f"{found.group(0)} disclosed to {where}"


def _fuzz(context: Context, role: str, place: str, prefix: str, typed: str, button: str | None) -> None:
    if button is not None:
        message = answer(BUTTONS[button], Request(USERS[role], "C0SOMEWHERE", typed, place=place), context)
    elif prefix.startswith("/"):
        message = _reply(context, USERS[role], place, prefix.strip(), typed)
    else:
        message = _reply(context, USERS[role], place, "/crm", prefix + typed)
    check_reply(message, role, place, typed)
    event("reply names a customer" if NAME.search(message.text + json.dumps(message.blocks)) else "reply names nobody")
    if prefix.startswith("admin") and role == "admin":
        _reset_roles(_engine(context))  # an admin's fuzzed grant must not skew later examples


INPUTS = dict(role=st.sampled_from(sorted(USERS)), place=st.sampled_from(PLACES),
              prefix=st.sampled_from(["/customer "] * 4 + ["/segments "] * 2 + ["atrisk ", "recommend "] * 2
                                     + COMMAND_PREFIXES), typed=TYPED,
              button=st.none() | st.sampled_from(sorted(BUTTONS)))


@settings(max_examples=1_000, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(**INPUTS)
def test_fuzzed_input_never_discloses_beyond_the_policy(probed: Context, role: str, place: str, prefix: str,
                                                        typed: str, button: str | None) -> None:
    _fuzz(probed, role, place, prefix, typed, button)


@pytest.mark.slow
@pytest.mark.full_length  # deselected by default (pyproject addopts); `pytest -m slow` runs it
@settings(max_examples=10_000, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(**INPUTS)
def test_ten_thousand_fuzzed_inputs_never_disclose_beyond_the_policy(probed: Context, role: str, place: str,
                                                                     prefix: str, typed: str,
                                                                     button: str | None) -> None:
    _fuzz(probed, role, place, prefix, typed, button)


TYPICAL = {  # every command as people use it
    "/customer": ["12748", "12347", "Zq Person 127"], "/segments": ["", "Champions", "At risk --country France"],
    "/crm rules": ["", "85123A"], "/crm recommend": ["12748"], "/crm atrisk": ["--top 5", "Champions"],
    "/crm model-health": [""], "/crm help": [""], "/crm digest": ["preview", "list all"], "/crm alert": ["list"],
    "/crm admin": ["roles", "audit", "audit --customer 12748"],
    "/crm ask": ["revenue last month by country", "top 5 customers", "tell me about 12748", "profit"],
    "/crm note": ["12748 called about the invoice", "12557 left a voicemail"], "/crm notes": ["12748", "12557"],
    "/crm assign": ["12748 <@U0MANAGER>", "12557 <@U0ADMIN99>"],
    "/crm remind": ["me to call 12748 friday 10:00", "me in 3 days about 12557"], "/crm tasks": [""],
}
PERSONAL = {"/customer 12748", "/customer 12347", "/customer Zq Person 127", "/crm recommend 12748",
            "/crm ask top 5 customers", "/crm ask tell me about 12748", "/crm notes 12748", "/crm notes 12557"}
"""Answers about individual customers: refused where the table says aggregates only."""
WRITES = {"/crm note", "/crm assign", "/crm remind"}
"""Shown as a preview (Save / Cancel) exactly where the asker may see the customer and may write."""


@pytest.mark.parametrize("role", sorted(USERS))
def test_every_command_as_every_role_in_every_place_follows_the_table(probed: Context, role: str) -> None:
    assert set(TYPICAL) == set(COMMANDS), "every command belongs in the matrix"
    for place in PLACES:
        for name, texts in TYPICAL.items():
            command, _, sub = name.partition(" ")
            for text in texts:
                message = _reply(probed, USERS[role], place, command, f"{sub} {text}".strip())
                check_reply(message, role, place, "")
                shown = message.text + json.dumps(message.blocks)
                asked = f"{name} {text}".strip()
                if asked in PERSONAL:
                    named = NAME.search(shown) or CUSTOMER_ID.search(shown)
                    assert bool(named) == may_see_individuals(role, place), (role, place, asked)
                if name in WRITES:
                    previewed = "Nothing is written until" in shown
                    subject = re.search(r"\b1\d{4}\b", text)
                    assert subject is not None
                    assert previewed == (may_see_individuals(role, place) and may_write(role, subject.group())), (
                        role, place, asked, shown[:200])
                if command == "/crm" and sub == "admin":
                    assert ("needs the admin role" in shown) == (role != "admin"), (role, place, asked)
        home_tab = answer(home, Request(USERS[role], "", ""), probed)
        check_reply(home_tab, role, "ephemeral", "")
        assert bool(NAME.search(json.dumps(home_tab.blocks))) == (role == "rep"), role  # the rep owns a tenth
        for action, value in (("customer.orders", "12347|0"), ("customer.why", "12347"), ("crm.atrisk", ""),
                              ("customer.notes", "12557|0"), ("customer.notes", "12748|0"),
                              ("customer.add_note", "12557"), ("customer.assign", "12748"), ("crm.save", "f" * 32),
                              ("customer.follow_up", "12557"), ("customer.follow_up", "12748"), ("crm.tasks", "0"),
                              ("crm.done", "999999"), ("crm.snooze_day", "999999|x"), ("crm.snooze_week", "1|x")):
            message = answer(BUTTONS[action], Request(USERS[role], "C0SOMEWHERE", value, place=place), probed)
            check_reply(message, role, place, "")
            if action in ("customer.add_note", "customer.assign", "customer.follow_up"):  # forms: for who may write
                assert (message.modal is not None) == (may_see_individuals(role, place)
                                                       and may_write(role, value)), (role, place, action)
        _check_export(probed, role, place)


def _check_export(probed: Context, role: str, place: str) -> None:
    """Export CSV sends its file to the clicker's DM, so the file follows the table's DM column
    wherever the button was clicked; the reply itself names nobody."""
    message = answer(BUTTONS["crm.export"], Request(USERS[role], "C0SOMEWHERE", "atrisk||", place=place), probed)
    check_reply(message, role, place, "")
    if role == "viewer":
        assert message.file is None and "aggregates only" in message.text
        return
    assert message.file is not None
    try:
        shown = message.file.path.read_text(encoding="utf-8")
    finally:
        message.file.path.unlink()
    assert NAME.search(shown), "the export names its customers"
    if role in ("rep", "marketer"):
        assert MASKED_EMAIL.search(shown), "the accounts they may not see in full are masked"
    else:
        assert FULL_EMAIL.search(shown), "managers and admins get every detail (the check below is not blind)"
    for found in FULL_EMAIL.finditer(shown):
        assert may_see_contact_details(role, "im", found.group(1)), f"{found.group(0)} exported to {role}"


def test_the_oracle_sees_disclosures(probed: Context) -> None:
    """The checks above are not blind: a full card fails them where the table says it must."""
    card = _reply(probed, ADMIN, "ephemeral", "/customer", "12748")
    assert FULL_EMAIL.search(card.text + json.dumps(card.blocks)), "the probe details must reach the card"
    check_reply(card, "admin", "ephemeral", "")
    for role, place in (("admin", "public"), ("viewer", "ephemeral"), ("rep", "ephemeral"), ("marketer", "im")):
        with pytest.raises(AssertionError, match="disclosed"):
            check_reply(card, role, place, "")
    notes = _reply(probed, MANAGER, "im", "/crm", "notes 12748")
    assert NOTE_TEXT.search(notes.text + json.dumps(notes.blocks)), "the probe note must reach the notes page"
    assert NOTE_TEXT.search(json.dumps(card.blocks)), "and the card"
    for role, place in (("manager", "private"), ("marketer", "im"), ("rep", "ephemeral")):
        with pytest.raises(AssertionError, match="disclosed"):
            check_reply(notes, role, place, "")


def _store_counts(engine: Engine) -> tuple[int, ...]:
    with Session(engine) as session:
        return tuple(session.scalar(select(func.count()).select_from(t)) for t in (Customer, Order, OrderLine))


def test_injection_strings_through_every_command_leave_the_store_as_it_was(probed: Context) -> None:
    assert set(TEMPLATES) == set(COMMANDS), "every command needs its injection templates"
    engine = _engine(probed)
    before = _store_counts(engine)
    for name, templates in TEMPLATES.items():
        command, _, sub = name.partition(" ")
        for template in templates:
            for payload in INJECTIONS:
                text = (sub + " " if sub else "") + template.format(p=payload)
                for role in ("admin", "viewer"):
                    check_reply(_reply(probed, USERS[role], "ephemeral", command, text), role, "ephemeral", payload)
    for action in BUTTONS:
        for payload in INJECTIONS:
            check_reply(answer(BUTTONS[action], Request(ADMIN, "C0SOMEWHERE", payload), probed), "admin",
                        "ephemeral", payload)
    assert _store_counts(engine) == before
    _reset_roles(engine)
