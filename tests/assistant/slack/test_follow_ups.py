"""Follow-ups over signed HTTP: set by command, in words and by the card's form; reminded in the
owner's direct messages; closed and snoozed by the reminder's buttons; listed by /crm tasks and
on the App Home; handed over with the account; exported and erased with the customer.

The people are in Europe/Berlin (UTC+1 in December): "friday 10:00" typed on Thursday 3 December
2026 at 10:30 Berlin time is stored as 09:00 UTC on the 4th.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from assistant.jobs.delivery import Pacer
from assistant.jobs.reminders import ReminderSender
from assistant.slack.app import make_client
from assistant.slack.poster import SlackPoster
from db import erasure
from db.access_models import AuditEntry
from db.work_models import FollowUp, PendingWrite
from tests.assistant.slack.write_bot import (
    ADMIN,
    JANE,
    MANAGER,
    MARKETER,
    NOW,
    OTHER_REP,
    REP,
    SECRET,
    VIEWER,
    Bot,
    running_bot,
    text_of,
)


class Clock:
    """The bot's and the scheduler's now, moved by the test."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def bot(engine: Engine, clock: Clock) -> Iterator[Bot]:
    with running_bot(engine, clock) as running:
        yield running


def _follow_ups(bot: Bot) -> list[FollowUp]:
    with Session(bot.engine) as session:
        return list(session.scalars(select(FollowUp).order_by(FollowUp.id)))


def _sender(bot: Bot, clock: Clock) -> ReminderSender:
    return ReminderSender(sessionmaker(bot.engine), SlackPoster(make_client("xoxb-test", bot.fake.url)), clock=clock,
                          lease=timedelta(seconds=3), pacer=Pacer(0.0), worker="test")


def _reminders(bot: Bot, user: str) -> list[dict[str, Any]]:
    return [m for m in bot.fake.messages_in(user) if (m.get("metadata") or {}).get("event_type") == "crm_follow_up"]


def _buttons(message: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {e["text"]["text"]: (e["action_id"], e["value"]) for b in message["blocks"] if b["type"] == "actions"
            for e in b["elements"]}


def _set(bot: Bot, text: str, user: str = REP) -> dict[str, Any]:
    before = bot.replies()
    assert bot.command(text, user=user) == (200, "")
    preview = bot.reply(before)
    bot.click("crm.save", bot.buttons(preview)["Save"], user=user)
    return bot.reply(before + 1)


def test_remind_by_command_reads_the_askers_time_zone_previews_and_sets_once(bot: Bot) -> None:
    before = bot.replies()
    assert bot.command("remind me to call 12748 friday 10:00", user=REP) == (200, "")
    preview = bot.reply(before)
    assert "Fri 04 Dec 2026 10:00" in text_of(preview) and "Europe/Berlin" in text_of(preview)
    assert "Nothing is written" in text_of(preview) and _follow_ups(bot) == []
    token = bot.buttons(preview)["Save"]
    for click in range(2):
        bot.click("crm.save", token, user=REP)
        assert ("set for" if click == 0 else "already saved") in text_of(bot.reply(before + 1 + click))
    [row] = _follow_ups(bot)
    assert (row.owner, row.text, row.due_at, row.timezone) == (REP, "Call", datetime(2026, 12, 4, 9, 0),
                                                               "Europe/Berlin")
    with Session(bot.engine) as session:
        [entry] = session.scalars(select(AuditEntry).where(AuditEntry.action == "follow_up"))
        assert entry.customer_ref == "12748" and "Call" not in json.dumps(entry.detail)


def test_remind_in_words_and_the_phrasings_of_time(bot: Bot) -> None:
    saved = _set(bot, "remind me in 3 days about 12748")
    assert "set for" in text_of(saved)
    before = bot.replies()
    bot.fake.mention(bot.server.url, SECRET, "remind me to send the quote to 12748 tomorrow at 14:30",
                     user_id=REP)
    preview = bot.fake.wait_for(lambda c: any(x.method == "chat.postEphemeral" and "Follow-up" in str(x.params)
                                              for x in c))
    assert bot.replies() == before  # a mention's preview is posted (ephemeral), not a response_url reply
    [post] = [c for c in preview if c.method == "chat.postEphemeral"]
    blocks = json.loads(post.params["blocks"]) if isinstance(post.params["blocks"], str) else post.params["blocks"]
    assert "Fri 04 Dec 2026 14:30" in json.dumps(blocks) and "Send the quote" in json.dumps(blocks)
    [first] = _follow_ups(bot)
    assert first.due_at == datetime(2026, 12, 6, 8, 0) and first.text == "Follow up"  # 09:00 Berlin: no hour said


@pytest.mark.parametrize(("text", "words"), [
    ("remind me yesterday about 12748", "is in the past"),
    ("remind me to call 12748 on the 31st of February", "February has no 31st"),
    ("remind me to call 12748", "say when"),
    ("remind me to call friday 10:00", "say which customer"),
    ("remind me to call 12748 whenever", "say when"),
    (f"remind <@{JANE}> to call 12748 friday", "only remind you"),
])
def test_bad_reminders_are_refused_in_words_and_nothing_is_set(bot: Bot, text: str, words: str) -> None:
    before = bot.replies()
    status, ack = bot.command(text, user=REP)
    said = ack if ack else text_of(bot.reply(before))
    assert status == 200 and words in said, said
    with Session(bot.engine) as session:
        assert session.scalar(select(PendingWrite)) is None
    assert _follow_ups(bot) == []


@pytest.mark.parametrize(("user", "customer", "allowed"), [
    (REP, "12748", True), (REP, "12583", False), (MANAGER, "12583", True), (ADMIN, "12347", True),
    (MARKETER, "12748", False), (VIEWER, "12748", False)])
def test_who_may_set_a_follow_up(bot: Bot, user: str, customer: str, allowed: bool) -> None:
    before = bot.replies()
    bot.command(f"remind me to call {customer} friday 10:00", user=user)
    said = text_of(bot.reply(before))
    assert ("Save" in json.dumps(bot.buttons(bot.reply(before)))) is allowed, said


def test_the_follow_up_form_opens_checks_inline_and_sets_once_per_form(bot: Bot) -> None:
    bot.click("customer.follow_up", "12748", user=REP)
    bot.fake.wait_for(lambda c: any(x.method == "views.open" for x in c))
    [view] = bot.fake.opened_views(REP)
    fields = {b.get("block_id"): b for b in view.view["blocks"]}
    assert fields["date"]["element"]["initial_date"] == "2026-12-04" and fields["time"]["element"]["type"] == \
        "timepicker"
    answer = bot.fake.submit_view(bot.server.url, SECRET, view.id, {"date": "2026-12-02", "time": "09:00"})
    assert answer["response_action"] == "errors" and "in the past" in answer["errors"]["date"]
    answer = bot.fake.submit_view(bot.server.url, SECRET, view.id, {"date": "2026-12-07", "time": "08:15",
                                                                    "task": "bring samples"}, deliveries=2)
    assert answer["response_action"] == "update"
    [row] = _follow_ups(bot)
    assert (row.due_at, row.text) == (datetime(2026, 12, 7, 7, 15), "bring samples")


def test_the_reminder_arrives_once_at_its_time_in_the_owners_dm_and_done_closes_it(bot: Bot, clock: Clock) -> None:
    _set(bot, "remind me to call 12748 friday 10:00")
    sender = _sender(bot, clock)
    assert sender.run().sent == [] and _reminders(bot, REP) == []  # not yet due
    clock.now = datetime(2026, 12, 4, 9, 0, 30, tzinfo=UTC)
    assert len(sender.run().sent) == 1 and sender.run().sent == []
    [message] = _reminders(bot, REP)
    assert "Call" in message["text"] and "12748" in message["text"]
    buttons = _buttons(message)
    assert set(buttons) == {"Done", "Snooze 1 day", "Snooze 1 week", "Open card"}
    before = bot.replies()
    bot.click(*buttons["Done"], user=OTHER_REP)  # not theirs
    assert "only the person it reminds" in text_of(bot.reply(before))
    bot.click(*buttons["Done"], user=REP)
    done = bot.reply(before + 1)
    assert "Done" in text_of(done) and done["replace_original"] in (True, "true")
    bot.click(*buttons["Done"], user=REP)
    assert "already done" in text_of(bot.reply(before + 2))
    [row] = _follow_ups(bot)
    assert (row.state, row.reminder, row.done_by) == ("done", "sent", REP)


def test_snooze_reminds_again_a_day_later_by_the_owners_clock_once_per_click(bot: Bot, clock: Clock) -> None:
    _set(bot, "remind me to call 12748 friday 10:00")
    clock.now = datetime(2026, 12, 4, 9, 1, tzinfo=UTC)
    sender = _sender(bot, clock)
    sender.run()
    [message] = _reminders(bot, REP)
    before = bot.replies()
    bot.click(*_buttons(message)["Snooze 1 day"], user=REP)
    assert "Snoozed" in text_of(bot.reply(before))
    bot.click(*_buttons(message)["Snooze 1 week"], user=REP)  # the same reminder: already snoozed
    assert "already snoozed" in text_of(bot.reply(before + 1))
    [row] = _follow_ups(bot)
    assert (row.due_at, row.reminder, row.state) == (datetime(2026, 12, 5, 9, 1), "waiting", "open")
    clock.now = datetime(2026, 12, 5, 9, 2, tzinfo=UTC)
    assert len(sender.run().sent) == 1 and len(_reminders(bot, REP)) == 2


def test_tasks_list_overdue_first_with_missed_ones_said_and_done_buttons(bot: Bot, clock: Clock) -> None:
    _set(bot, "remind me to call 12748 next week")
    _set(bot, "remind me to email 12748 friday 10:00")
    clock.now = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)  # three hours after Friday 10:00 Berlin: past the grace
    assert len(_sender(bot, clock).run().missed) == 1
    before = bot.replies()
    bot.command("tasks", user=REP)
    listed = bot.reply(before)
    said = text_of(listed)
    assert "2 open follow-ups" not in said and "1-2 of 2, 1 overdue" in said
    assert said.index("Email") < said.index("Call") and "missed" in said
    done = [b["accessory"]["value"] for b in listed["blocks"] if "accessory" in b]
    assert len(done) == 2
    bot.command("tasks", user=OTHER_REP)
    assert "no open follow-ups" in text_of(bot.reply(before + 1))
    bot.fake.mention(bot.server.url, SECRET, "what are my follow-ups?", user_id=REP)
    bot.fake.wait_for(lambda c: any("Your open follow-ups" in str(x.params) for x in c if x.method in (
        "chat.postEphemeral", "chat.postMessage")))


def test_the_app_home_shows_my_open_follow_ups_above_my_accounts(bot: Bot) -> None:
    _set(bot, "remind me to call 12748 friday 10:00")
    assert bot.fake.open_home(bot.server.url, SECRET, user_id=REP)[0] == 200
    bot.fake.wait_for(lambda c: any(x.method == "views.publish" for x in c))
    [published] = bot.fake.calls_to("views.publish")
    view = json.loads(published.params["view"]) if isinstance(published.params["view"], str) else \
        published.params["view"]
    first = json.dumps(view["blocks"][0])
    assert "Your open follow-ups" in first and "12748" in first


def test_handing_over_the_account_moves_its_open_follow_ups_and_their_reminders(bot: Bot, clock: Clock) -> None:
    _set(bot, "remind me to call 12748 friday 10:00")
    before = bot.replies()
    bot.command(f"assign 12748 <@{JANE}>", user=MANAGER)
    bot.click("crm.save", bot.buttons(bot.reply(before))["Assign"], user=MANAGER)
    bot.reply(before + 1)
    [row] = _follow_ups(bot)
    assert row.owner == JANE
    clock.now = datetime(2026, 12, 4, 9, 0, 30, tzinfo=UTC)
    _sender(bot, clock).run()
    assert len(_reminders(bot, JANE)) == 1 and _reminders(bot, REP) == []


def test_export_includes_and_erasure_deletes_follow_ups_and_a_late_click_says_so(bot: Bot, clock: Clock) -> None:
    _set(bot, "remind me to call 12748 friday 10:00")
    clock.now = datetime(2026, 12, 4, 9, 0, 30, tzinfo=UTC)
    _sender(bot, clock).run()
    [message] = _reminders(bot, REP)
    with Session(bot.engine) as session:
        [exported] = erasure.export_customer(session, "12748", clock.now.replace(tzinfo=None))["follow_ups"]
        assert exported["text"] == "Call" and exported["due"].startswith("2026-12-04 09:00")
        report = erasure.erase_customer(session, "12748", "cli", clock.now.replace(tzinfo=None))
        session.commit()
    assert report.removed["follow_ups"] == 1 and _follow_ups(bot) == []
    before = bot.replies()
    bot.click(*_buttons(message)["Snooze 1 day"], user=REP)
    assert "is gone" in text_of(bot.reply(before))
