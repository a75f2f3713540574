"""What the write side says: previews with Save / Cancel, forms (modals), notes, owners.

Pure: dicts in Slack's Block Kit and view shapes, nothing sent.  Times are written with Slack's
date markup, so each reader sees them in their own time zone (the fallback says UTC).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from assistant.render.blocks import Block, Message, actions, button, context, escape, section
from db.owners import MEMBER_ID
from db.work_models import NOTE_CHARS, CustomerNote

SAVE_ACTION, CANCEL_ACTION = "crm.save", "crm.cancel"
"""The buttons under a preview; their value is the preview's token."""
NOTE_FORM, ASSIGN_FORM = "crm.note", "crm.assign"
"""The forms' ``callback_id``s; their ``private_metadata`` is the customer id."""
NOTE_FIELD, OWNER_FIELD = "note", "owner"
"""The forms' input ``block_id``s (where a field's error is shown)."""
NOTES_PAGE = 5
TITLE_CHARS = 24
"""Slack's limit for a modal's title."""


def who(customer: object) -> str:
    """``12748 (Jane Doe)``, or the id alone."""
    name = getattr(customer, "name", None)
    return f"{customer.external_id}" + (f" ({name})" if name else "")  # type: ignore[attr-defined]


def person(user: str | None) -> str:
    """A Slack member as a mention (shown as their name); anyone else as written."""
    if not user:
        return "nobody"
    if user == "cli":
        return "the command line"
    return f"<@{user}>" if MEMBER_ID.match(user) else escape(user)


def when(at: datetime) -> str:
    """A stored (naive UTC) time in Slack's date markup: each reader sees their own time zone."""
    stamp = int(at.replace(tzinfo=UTC).timestamp())
    return f"<!date^{stamp}^{{date_short_pretty}} {{time}}|{at:%Y-%m-%d %H:%M} UTC>"


def modal_title(text: str) -> dict[str, str]:
    """A modal's title within Slack's 24 characters."""
    return {"type": "plain_text", "text": text if len(text) <= TITLE_CHARS else text[:TITLE_CHARS - 1] + "\u2026"}


def _quoted(text: str) -> str:
    return "\n".join("> " + escape(line) if line else ">" for line in text.splitlines() or [""])


def preview(heading: str, body: str, token: str, save_label: str) -> Message:
    """A write shown before it happens: nothing is saved until Save is pressed."""
    return Message(text=f"{heading} (not saved yet: press {save_label} or Cancel)", blocks=[
        section(f"*{heading}*\n{body}"),
        context("Only you see this. Nothing is written until you press " + save_label + "."),
        actions(button(save_label, SAVE_ACTION, token, primary=True), button("Cancel", CANCEL_ACTION, token))])


def note_preview(customer: object, text: str, token: str) -> Message:
    """``/crm note`` and "note for ...": the note as it will be saved."""
    return preview(f"Note on customer {escape(who(customer))}", _quoted(text), token, "Save")


def note_saved(customer: object, note: CustomerNote, now_written: bool, total: int) -> Message:
    """After Save (or a form's submit): saved, or saved already by an earlier click."""
    if now_written:
        text = f"Saved your note on {who(customer)}; the customer has {total} note{'s' if total != 1 else ''}."
    else:
        text = f"That note on {who(customer)} was already saved ({note.written_at:%Y-%m-%d %H:%M} UTC); " \
               "nothing was written twice."
    return Message(text=text, blocks=[section(escape(text)),
                                      actions(button("Notes", "customer.notes", f"{customer.external_id}|0"))])  # type: ignore[attr-defined]


def _note_lines(notes: Sequence[CustomerNote]) -> list[str]:
    return [f"{when(n.written_at)}, {person(n.author)}:\n{_quoted(n.text)}" for n in notes]


def card_notes(customer: object, notes: Sequence[CustomerNote], total: int, full: bool) -> list[Block]:
    """The card's latest notes (with their text only where the customer is shown in full)."""
    if total == 0:
        return []
    if not full:
        return [context(f"{total} note{'s' if total != 1 else ''} about this customer: their text is shown where "
                        "the customer's full details may be (a direct message or a slash command, to the owner, "
                        "managers and admins).")]
    heading = f"*Latest notes* ({len(notes)} of {total})" if total > len(notes) else "*Notes*"
    return [section(heading + "\n" + "\n".join(_note_lines(notes)))]


def notes_page(customer: object, notes: Sequence[CustomerNote], offset: int, total: int, full: bool) -> Message:
    """A page of a customer's notes, newest first, with "Older" while there are more."""
    ref = customer.external_id  # type: ignore[attr-defined]
    if total == 0:
        return Message(text=f"No notes on {who(customer)} yet.",
                       blocks=[section(f"No notes on {escape(who(customer))} yet."),
                               actions(button("Add note", "customer.add_note", ref))])
    if not full:
        text = (f"{who(customer)} has {total} note{'s' if total != 1 else ''}; their text is shown to the owner, "
                "managers and admins, in a direct message or a slash command.")
        return Message(text=text, blocks=[section(escape(text))])
    shown = f"{offset + 1}-{offset + len(notes)} of {total}"
    blocks: list[Block] = [section(f"*Notes on {escape(who(customer))}* ({shown}, newest first)")]
    blocks += [section(line) for line in _note_lines(notes)]
    buttons = [button("Add note", "customer.add_note", ref)]
    if offset + len(notes) < total:
        buttons.append(button("Older", "customer.notes", f"{ref}|{offset + len(notes)}"))
    blocks.append(actions(*buttons))
    return Message(text=f"Notes {shown} on {who(customer)}", blocks=blocks)


def note_form(customer: object) -> dict[str, Any]:
    """The "Add note" modal."""
    return {"type": "modal", "callback_id": NOTE_FORM, "private_metadata": customer.external_id,  # type: ignore[attr-defined]
            "title": modal_title("Add a note"), "submit": {"type": "plain_text", "text": "Save"},
            "close": {"type": "plain_text", "text": "Cancel"}, "notify_on_close": True,
            "blocks": [section(f"Customer *{escape(who(customer))}*"),
                       {"type": "input", "block_id": NOTE_FIELD, "label": {"type": "plain_text", "text": "Note"},
                        "element": {"type": "plain_text_input", "action_id": "text", "multiline": True,
                                    "max_length": NOTE_CHARS, "placeholder": {
                                        "type": "plain_text", "text": "What happened: a call, a request, a promise"}}}]}


def assign_preview(customer: object, previous: str | None, owner: str, token: str) -> Message:
    """``/crm assign``: the change of owner as it will be made."""
    body = f"Owner now: {person(previous)}\nNew owner: {person(owner)} (their DM gets this account's alerts and " \
           "reminders from then on)"
    return preview(f"Hand customer {escape(who(customer))} to a new owner", body, token, "Assign")


def assign_form(customer: object) -> dict[str, Any]:
    """The "Assign" modal: a Slack user picker, starting at the current owner."""
    element: dict[str, Any] = {"type": "users_select", "action_id": "user",
                               "placeholder": {"type": "plain_text", "text": "Pick the new owner"}}
    owner = getattr(customer, "owner", None)
    if owner and MEMBER_ID.match(owner):
        element["initial_user"] = owner
    return {"type": "modal", "callback_id": ASSIGN_FORM, "private_metadata": customer.external_id,  # type: ignore[attr-defined]
            "title": modal_title("Assign an owner"), "submit": {"type": "plain_text", "text": "Assign"},
            "close": {"type": "plain_text", "text": "Cancel"}, "notify_on_close": True,
            "blocks": [section(f"Customer *{escape(who(customer))}*, owner now {person(owner)}"),
                       {"type": "input", "block_id": OWNER_FIELD, "label": {"type": "plain_text", "text": "New owner"},
                        "element": element}]}


def assigned(customer: object, previous: str | None, owner: str, now_written: bool) -> Message:
    """After Assign: who owns the account now."""
    if not now_written:
        text = f"{who(customer)} was already handed to {person(owner)}; nothing was changed twice."
    elif previous == owner:
        text = f"{person(owner)} already owned {who(customer)}; nothing changed."
    else:
        text = f"{who(customer)} is now owned by {person(owner)} (was {person(previous)})."
    return Message(text=text, blocks=[section(text)])


def already(text: str) -> Message:
    """A second click on a decided preview."""
    return Message(text=text, blocks=[section(escape(text))])


def cancelled(what: str) -> Message:
    """After Cancel: nothing written."""
    text = f"Cancelled: {what} was not saved."
    return Message(text=text, blocks=[section(escape(text))])


def form_result(message: Message) -> dict[str, Any]:
    """A submitted form turned into what it did (``response_action: update``)."""
    return {"type": "modal", "title": modal_title("Done"), "close": {"type": "plain_text", "text": "Close"},
            "blocks": [b for b in message.blocks if b.get("type") != "actions"] or [section(escape(message.text))]}
