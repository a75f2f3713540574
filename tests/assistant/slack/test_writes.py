"""The write side over signed HTTP: notes and owners from commands, buttons, forms and words.

Each test has its own store (SQLite and PostgreSQL) with a few customers and people in every
role, a fake Slack that opens and submits real views, and the real Bolt app between them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from slack_sdk.models.views import View
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from assistant.jobs.delivery import Deliverer
from assistant.jobs.scheduler import prune_previews
from assistant.slack.app import make_client
from assistant.slack.poster import SlackPoster
from db import erasure
from db.access_models import AuditEntry
from db.work_models import CustomerNote, PendingWrite
from tests.assistant.slack.write_bot import (
    ADMIN,
    GONE,
    JANE,
    MANAGER,
    MARKETER,
    NOW,
    OTHER_REP,
    REP,
    ROBOT,
    SECRET,
    VIEWER,
    Bot,
    running_bot,
    text_of,
)


@pytest.fixture
def bot(engine: Engine) -> Iterator[Bot]:
    with running_bot(engine) as running:
        yield running


_text = text_of


def test_a_note_typed_as_a_command_is_previewed_then_saved_once_however_often_save_is_clicked(bot: Bot) -> None:
    before = bot.replies()
    assert bot.command("note 12748 asked for the spring catalogue", user=REP) == (200, "")
    preview = bot.reply(before)
    assert "asked for the spring catalogue" in _text(preview) and "Nothing is written" in _text(preview)
    assert preview["response_type"] == "ephemeral" and bot.notes() == []
    token = bot.buttons(preview)["Save"]
    assert bot.buttons(preview)["Cancel"] == token
    bot.click("crm.save", token, user=OTHER_REP)  # somebody else's preview: not theirs to save
    assert "not yours" in _text(bot.reply(before + 1)) and bot.notes() == []
    bot.click("crm.save", token, user=REP)
    assert "Saved your note on 12748" in _text(bot.reply(before + 2))
    bot.click("crm.save", token, user=REP)
    assert "already saved" in _text(bot.reply(before + 3))
    bot.click("crm.cancel", token, user=REP)
    assert "already saved" in _text(bot.reply(before + 4))
    [note] = bot.notes()
    assert (note.author, note.text) == (REP, "asked for the spring catalogue")
    assert note.written_at == NOW.replace(tzinfo=None)
    with Session(bot.engine) as session:
        [entry] = session.scalars(select(AuditEntry).where(AuditEntry.action == "note"))
        assert entry.customer_ref == "12748" and entry.detail["characters"] == len(note.text)
        assert "spring" not in json.dumps([e.detail for e in session.scalars(select(AuditEntry))])


def test_cancel_writes_nothing_and_bad_notes_are_refused_in_the_acknowledgement(bot: Bot) -> None:
    before = bot.replies()
    bot.command("note 12748 wants a call back", user=MANAGER)
    token = bot.buttons(bot.reply(before))["Cancel"]
    bot.click("crm.cancel", token, user=MANAGER)
    assert "Cancelled" in _text(bot.reply(before + 1))
    bot.click("crm.save", token, user=MANAGER)
    assert "already cancelled" in _text(bot.reply(before + 2)) and bot.notes() == []
    status, body = bot.command("note 12748 " + "x" * 10_000)
    assert status == 200 and "at most 3,000 characters" in body and "10,000" in body
    assert "the note is empty" in bot.command("note 12748   ")[1]
    assert "say which customer" in bot.command("note")[1]
    with Session(bot.engine) as session:
        assert session.scalar(select(func.count()).select_from(PendingWrite)) == 1


@pytest.mark.parametrize(("user", "customer", "allowed"), [
    (ADMIN, "12583", True), (MANAGER, "12583", True), (REP, "12748", True), (REP, "12583", False),
    (REP, "12347", False), (MARKETER, "12748", False), (VIEWER, "12748", False)])
def test_who_may_write_a_note(bot: Bot, user: str, customer: str, allowed: bool) -> None:
    before = bot.replies()
    bot.command(f"note {customer} met at the fair", user=user)
    reply = _text(bot.reply(before))
    assert ("Save" in reply) is allowed, reply
    if not allowed:
        assert any(w in reply for w in ("cannot write", "not yours", "not assigned to you", "aggregates only"))


def test_the_add_note_form_opens_checks_inline_and_writes_once_per_form(bot: Bot) -> None:
    before = bot.replies()
    bot.click("customer.add_note", "12748", user=REP)
    bot.fake.wait_for(lambda c: any(x.method == "views.open" for x in c))
    [opened] = bot.fake.opened_views(REP)
    View(**opened.view).validate_json()
    assert opened.view["private_metadata"] == "12748" and bot.replies() == before
    empty = bot.fake.submit_view(bot.server.url, SECRET, opened.id, {"note": "  "})
    assert empty["response_action"] == "errors" and "the note is empty" in empty["errors"]["note"]
    too_long = bot.fake.submit_view(bot.server.url, SECRET, opened.id, {"note": "y" * 3001})
    assert "at most 3,000 characters" in too_long["errors"]["note"]
    bot.fake.submit_view(bot.server.url, SECRET, opened.id, {"note": "sent the catalogue\nby post"}, deliveries=2)
    answers = sorted(json.dumps(a["view"]) for a in bot.fake.last_answers)
    assert all(a["response_action"] == "update" for a in bot.fake.last_answers)
    assert sum("Saved your note" in a for a in answers) == 1 and sum("already saved" in a for a in answers) == 1
    View(**bot.fake.last_answers[0]["view"]).validate_json()
    assert [n.text for n in bot.notes()] == ["sent the catalogue\nby post"]


def test_a_form_closed_writes_nothing_and_an_expired_trigger_gets_a_message_instead(bot: Bot) -> None:
    bot.click("customer.add_note", "12748")
    bot.fake.wait_for(lambda c: any(x.method == "views.open" for x in c))
    [opened] = bot.fake.opened_views(ADMIN)
    assert bot.fake.close_view(bot.server.url, SECRET, opened.id)[0] == 200
    assert bot.notes() == []
    before = bot.replies()
    bot.fake.trigger_age = 10.0  # a bot too slow to open its form: every trigger is already 10 s old
    bot.click("customer.add_note", "12748")
    reply = _text(bot.reply(before))
    assert "could not open in time" in reply and "/crm note 12748" in reply


def test_notes_show_on_the_card_in_full_only_where_the_customer_is_shown_in_full(bot: Bot) -> None:
    for text in ("first call", "second call", "third call"):
        before = bot.replies()
        bot.command(f"note 12748 {text}", user=REP)
        bot.click("crm.save", bot.buttons(bot.reply(before))["Save"], user=REP)
        bot.reply(before + 1)
    before = bot.replies()
    bot.command("12748", user=REP, command="/customer")
    card = bot.reply(before)
    assert "third call" in _text(card) and "second call" in _text(card) and "first call" not in _text(card)
    assert {"Notes", "Add note", "Assign"} <= set(bot.buttons(card))
    bot.command("12748", user=MARKETER, command="/customer")
    masked = bot.reply(before + 1)
    assert "3 notes" in _text(masked) and "call" not in _text(masked)
    assert "Add note" not in bot.buttons(masked)
    bot.click("customer.notes", "12748|0", user=MARKETER)
    assert "has 3 notes" in _text(bot.reply(before + 2)) and "call" not in _text(bot.reply(before + 2))
    bot.click("customer.notes", "12748|0", user=MANAGER)
    page = bot.reply(before + 3)
    assert all(t in _text(page) for t in ("first call", "second call", "third call"))
    assert "<!date^" in _text(page) and f"<@{REP}>" in _text(page)


def test_a_note_in_words_is_proposed_in_private_and_saved_by_its_button(bot: Bot) -> None:
    bot.fake.mention(bot.server.url, SECRET, "note for 12748: prefers e-mail to calls", user_id=REP)
    calls = bot.fake.wait_for(lambda c: any(x.method == "chat.postEphemeral" for x in c))
    [preview] = [c.params for c in calls if c.method == "chat.postEphemeral"]
    blocks = json.loads(preview["blocks"]) if isinstance(preview["blocks"], str) else preview["blocks"]
    assert preview["user"] == REP and "prefers e-mail to calls" in json.dumps(blocks)
    assert bot.fake.messages_in("C0GENERAL") == [] and bot.notes() == []
    token = next(e["value"] for b in blocks if b["type"] == "actions" for e in b["elements"]
                 if e["action_id"] == "crm.save")
    before = bot.replies()
    bot.click("crm.save", token, user=REP)
    assert "Saved" in _text(bot.reply(before)) and [n.text for n in bot.notes()] == ["prefers e-mail to calls"]


def test_assign_by_command_form_and_words_with_the_rules_of_who_may(bot: Bot) -> None:
    before = bot.replies()
    bot.command(f"assign 12347 <@{JANE}|jane>", user=MANAGER)
    preview = bot.reply(before)
    assert "New owner" in _text(preview) and bot.owner("12347") is None
    bot.click("crm.save", bot.buttons(preview)["Assign"], user=MANAGER)
    assert f"now owned by <@{JANE}>" in _text(bot.reply(before + 1)) and bot.owner("12347") == JANE
    with Session(bot.engine) as session:
        [entry] = session.scalars(select(AuditEntry).where(AuditEntry.action == "assignment"))
        assert entry.detail == {"from": None, "to": JANE, "how": "preview", "follow_ups_moved": 0}
        assert entry.user_id == MANAGER
    for text, user, words in ((f"assign 12583 <@{JANE}>", REP, "not yours"),
                              (f"assign 12748 <@{GONE}>", REP, "deactivated"),
                              (f"assign 12748 <@{ROBOT}>", REP, "is a bot"),
                              ("assign 12748 <@U0NOBODY9>", REP, "no Slack user"),
                              (f"assign 12748 <@{JANE}>", MARKETER, "cannot write")):
        n = bot.replies()
        bot.command(text, user=user)
        assert words in _text(bot.reply(n)), text
    assert "mention them" in bot.command("assign 12748 jane", user=REP)[1]
    bot.click("customer.assign", "12748", user=REP)  # a rep hands over their own account in the form
    bot.fake.wait_for(lambda c: any(x.method == "views.open" for x in c))
    [opened] = bot.fake.opened_views(REP)
    assert opened.view["blocks"][1]["element"]["initial_user"] == REP
    wrong = bot.fake.submit_view(bot.server.url, SECRET, opened.id, {"owner": GONE})
    assert "deactivated" in wrong["errors"]["owner"] and bot.owner("12748") == REP
    done = bot.fake.submit_view(bot.server.url, SECRET, opened.id, {"owner": JANE})
    assert "now owned by" in json.dumps(done["view"]) and bot.owner("12748") == JANE
    n = bot.replies()
    bot.fake.mention(bot.server.url, SECRET, "give 12583 to me", user_id=MANAGER)
    calls = bot.fake.wait_for(lambda c: sum(x.method == "chat.postEphemeral" for x in c) >= 1)
    preview_words = json.dumps([c.params for c in calls if c.method == "chat.postEphemeral"])
    assert f"<@{MANAGER}>" in preview_words and bot.replies() == n


def test_erasure_takes_notes_and_previews_with_it_and_a_late_click_says_so(bot: Bot) -> None:
    before = bot.replies()
    bot.command("note 12748 kept for export", user=REP)
    bot.click("crm.save", bot.buttons(bot.reply(before))["Save"], user=REP)
    bot.reply(before + 1)
    bot.command("note 12748 never saved", user=REP)
    pending = bot.buttons(bot.reply(before + 2))["Save"]
    with Session(bot.engine) as session:
        held = erasure.export_customer(session, "12748", NOW.replace(tzinfo=None))
        assert [n["text"] for n in held["notes"]] == ["kept for export"] and held["notes"][0]["author"] == REP
        done = erasure.erase_customer(session, "12748", "cli", NOW.replace(tzinfo=None))
    assert done.removed["notes"] == 1 and done.removed["previews"] == 2
    with Session(bot.engine) as session:
        assert session.scalar(select(func.count()).select_from(CustomerNote)) == 0
        assert session.scalar(select(func.count()).select_from(PendingWrite)) == 0
    bot.click("crm.save", pending, user=REP)
    assert "erased with its customer" in _text(bot.reply(before + 3))
    bot.click("customer.add_note", "12748", user=ADMIN)
    assert "was erased on 2026-12-03" in _text(bot.reply(before + 4))
    assert bot.fake.calls_to("views.open") == []


def test_the_scheduler_deletes_previews_nobody_saved_within_a_day(bot: Bot) -> None:
    before = bot.replies()
    bot.command("note 12748 left a voicemail", user=REP)
    bot.reply(before)
    poster = SlackPoster(make_client("xoxb-test", bot.fake.url))
    soon = Deliverer(sessionmaker(bot.engine), poster, clock=lambda: NOW + timedelta(hours=23))
    assert prune_previews(soon) == 0
    later = Deliverer(sessionmaker(bot.engine), poster, clock=lambda: NOW + timedelta(days=1, minutes=1))
    assert prune_previews(later) == 1
    with Session(bot.engine) as session:
        assert session.scalar(select(func.count()).select_from(PendingWrite)) == 0
