"""What follow-ups look like: the preview, the form, the reminder with its buttons, the task list.

Pure, like ``assistant.render.writes``: due times are written with Slack's date markup, so each
reader sees their own time zone; the preview also names the zone the time was read in.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from assistant.render.blocks import Block, Message, actions, button, context, escape, section
from assistant.render.writes import modal_title, preview, when, who
from db.models import Customer
from db.work_models import NOTE_CHARS, FollowUp

FOLLOW_UP_FORM = "crm.follow_up"
DATE_FIELD, TIME_FIELD, TASK_FIELD = "date", "time", "task"
DONE_ACTION, SNOOZE_DAY_ACTION, SNOOZE_WEEK_ACTION = "crm.done", "crm.snooze_day", "crm.snooze_week"
"""Done's value is the follow-up id; the snoozes' ``ID|TOKEN`` (the reminder they answer)."""
OPEN_CARD_ACTION = "customer.pick"
TASKS_ACTION = "crm.tasks"
TASKS_PAGE = 10
DEFAULT_TASK = "Follow up"


def _due(follow_up: FollowUp, now: datetime) -> str:
    overdue = " *overdue*" if follow_up.due_at < now else ""
    return f"{when(follow_up.due_at)}{overdue}"


def follow_up_preview(customer: Customer, task: str, local: datetime, zone: str, note: str, token: str) -> Message:
    """``/crm remind`` and "remind me ...": the follow-up as it will be set."""
    body = (f"{escape(task)}\nWhen: *{local:%a %d %b %Y %H:%M}* your time ({escape(zone)})"
            + (f"\n_{escape(note)}_" if note else "")
            + "\nYou get a direct message then, with Done and Snooze.")
    return preview(f"Follow-up on customer {escape(who(customer))}", body, token, "Save")


def follow_up_saved(customer: Customer, follow_up: FollowUp, now_written: bool, open_total: int) -> Message:
    """After Save or a submitted form: set (or set already by an earlier click)."""
    if now_written:
        text = (f"Follow-up on {who(customer)} set for {when(follow_up.due_at)}: {escape(follow_up.text)}. You have "
                f"{open_total} open follow-up{'s' if open_total != 1 else ''}.")
    else:
        text = f"That follow-up on {who(customer)} was already set ({when(follow_up.due_at)}); nothing was set twice."
    return Message(text=text, blocks=[section(text), actions(button("My follow-ups", TASKS_ACTION, "0"))])


def follow_up_form(customer: Customer, zone: str, day: date) -> dict[str, Any]:
    """The "Follow up" modal: a day, a time (in the asker's zone, said in the form) and what to do."""
    return {"type": "modal", "callback_id": FOLLOW_UP_FORM, "private_metadata": customer.external_id,
            "title": modal_title("Follow up"), "submit": {"type": "plain_text", "text": "Save"},
            "close": {"type": "plain_text", "text": "Cancel"}, "notify_on_close": True,
            "blocks": [
                section(f"Customer *{escape(who(customer))}*. You get a direct message at that time "
                        f"({escape(zone)}, your Slack time zone)."),
                {"type": "input", "block_id": DATE_FIELD, "label": {"type": "plain_text", "text": "Day"},
                 "element": {"type": "datepicker", "action_id": "day", "initial_date": f"{day:%Y-%m-%d}"}},
                {"type": "input", "block_id": TIME_FIELD, "label": {"type": "plain_text", "text": "Time"},
                 "element": {"type": "timepicker", "action_id": "time", "initial_time": "09:00"}},
                {"type": "input", "block_id": TASK_FIELD, "optional": True,
                 "label": {"type": "plain_text", "text": "What to do"},
                 "element": {"type": "plain_text_input", "action_id": "text", "multiline": True,
                             "max_length": NOTE_CHARS, "placeholder": {
                                 "type": "plain_text", "text": "Call about the spring catalogue"}}}]}


def reminder_message(follow_up: FollowUp, customer: Customer, line: str) -> Message:
    """The direct message at the due time: what to do, the customer in one line, and the buttons."""
    ref = customer.external_id
    text = f"Follow up on {who(customer)}: {follow_up.text}"
    return Message(text=text, blocks=[
        section(f":alarm_clock: *{escape(follow_up.text)}*\nCustomer *{escape(who(customer))}*: {escape(line)}"),
        context(f"Due {when(follow_up.due_at)}, set {when(follow_up.created_at)}."),
        actions(button("Done", DONE_ACTION, str(follow_up.id), primary=True),
                button("Snooze 1 day", SNOOZE_DAY_ACTION, f"{follow_up.id}|{follow_up.token}"),
                button("Snooze 1 week", SNOOZE_WEEK_ACTION, f"{follow_up.id}|{follow_up.token}"),
                button("Open card", OPEN_CARD_ACTION, ref))])


HIDDEN = "_(what to do is shown in a direct message or a slash command)_"


def _task_line(follow_up: FollowUp, customer: Customer, now: datetime, full: bool) -> str:
    state = {"missed": " (its reminder was missed while crm-bot was not running)",
             "failed": f" (its reminder could not be sent: {escape(follow_up.detail or 'unknown')})"}
    return (f"{_due(follow_up, now)} *{escape(who(customer))}*: {escape(follow_up.text) if full else HIDDEN}"
            + state.get(follow_up.reminder, ""))


def tasks_page(rows: Sequence[tuple[FollowUp, Customer, bool]], now: datetime, offset: int, total: int,
               overdue: int) -> Message:
    """``/crm tasks``: my open follow-ups, most overdue first, each with Done (what to do only where
    the row's flag says the customer is shown in full)."""
    if total == 0:
        text = "You have no open follow-ups. Set one with `/crm remind me to call CUSTOMER friday 10:00` or the " \
               "Follow up button on a customer's card."
        return Message(text=text, blocks=[section(text)])
    shown = f"{offset + 1}-{offset + len(rows)} of {total}"
    heading = f"*Your open follow-ups* ({shown}" + (f", {overdue} overdue" if overdue else "") + ")"
    blocks: list[Block] = [section(heading)]
    for follow_up, customer, full in rows:
        blocks.append({**section(_task_line(follow_up, customer, now, full)),
                       "accessory": button("Done", DONE_ACTION, str(follow_up.id))})
    if offset + len(rows) < total:
        blocks.append(actions(button("More", TASKS_ACTION, str(offset + len(rows)))))
    return Message(text=f"Your open follow-ups ({shown})", blocks=blocks)


def home_follow_ups(rows: Sequence[tuple[FollowUp, Customer, bool]], now: datetime, total: int) -> list[Block]:
    """The App Home's first section: my open follow-ups (the first few)."""
    if total == 0:
        return []
    lines = [_task_line(f, c, now, full) for f, c, full in rows]
    more = f"\n_and {total - len(rows)} more: `/crm tasks`_" if total > len(rows) else ""
    return [section(f"*Your open follow-ups* ({total})\n" + "\n".join(lines) + more)]


def done(customer: Customer, follow_up: FollowUp, now_done: bool) -> Message:
    """After Done."""
    text = (f"Done: {escape(follow_up.text)} ({escape(who(customer))})." if now_done else
            f"That follow-up on {who(customer)} was already {follow_up.state}; nothing changed.")
    return Message(text=text, blocks=[section(text)], replace=True)


def snoozed(customer: Customer, follow_up: FollowUp, now_snoozed: bool) -> Message:
    """After Snooze: when the reminder comes again."""
    text = (f"Snoozed: {escape(follow_up.text)} ({who(customer)}), reminded again {when(follow_up.due_at)}."
            if now_snoozed else f"That reminder on {who(customer)} was already snoozed or closed; nothing changed "
                                f"(next: {when(follow_up.due_at)}).")
    return Message(text=text, blocks=[section(text)], replace=now_snoozed)

