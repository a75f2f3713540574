"""Notes about customers: ``/crm note``, "note for 12748: ...", the card's Add note form and Notes pages."""

from __future__ import annotations

import re

from sqlalchemy.orm import Session

from assistant.commands import writing
from assistant.commands.base import Context, Request, UsageError
from assistant.errors import FieldError
from assistant.render import writes as render
from assistant.render.blocks import Message
from assistant.views import examples, policy
from assistant.views.insights import find_customer
from db import access, notes, pending_writes
from db.models import Customer
from db.work_models import NOTE_CHARS, PendingWrite

USAGE = "/crm note CUSTOMER WHAT HAPPENED"
NOTES_USAGE = "/crm notes CUSTOMER"
WHAT = "writing a note"
QUOTED = re.compile(r'^\s*["\u201c]([^"\u201d]+)["\u201d]\s*(.*)$', re.DOTALL)


def split(text: str) -> tuple[str, str]:
    """``12748 asked for the catalogue`` -> (customer, note); a name in quotes may have spaces."""
    quoted = QUOTED.match(text)
    if quoted:
        return quoted.group(1).strip(), quoted.group(2).strip()
    ref, _, note = text.strip().partition(" ")
    return ref, note.strip()


def note_problem(note: str) -> str | None:
    """What is wrong with a note's text, in words, or ``None``."""
    if not note.strip():
        return f"the note is empty: write what happened, e.g. `/crm note {examples.CUSTOMER} asked for the spring " \
               "catalogue`"
    if len(note) > NOTE_CHARS:
        return f"a note holds at most {NOTE_CHARS:,} characters (Slack's limit for one block of text); this one " \
               f"has {len(note):,}. Shorten it, or save it as two notes."
    return None


def check(text: str) -> tuple[str, str]:
    """``/crm note`` must name a customer and say something of sane length."""
    ref, note = split(text)
    if not ref:
        raise UsageError(f"say which customer and what happened: `/crm note {examples.CUSTOMER} asked for the "
                         f"spring catalogue`\nUsage: {USAGE}")
    problem = note_problem(note)
    if problem:
        raise UsageError(problem)
    return ref, note


def run(request: Request, context: Context) -> Message:
    """``/crm note CUSTOMER TEXT``: the note as a preview with Save / Cancel; nothing written yet."""
    ref, note = check(request.text)
    with context.session_factory() as session:
        writing.may_ask(session, request, context, WHAT)
        customer = writing.subject(session, ref)
        writing.writer(session, request, context, customer, WHAT)
        token = pending_writes.propose(session, request.user_id, "note", customer.external_id, {"text": note},
                                       context.now())
        session.commit()
        return render.note_preview(customer, note, token)


def _write(session: Session, customer: Customer, note: str, request: Request, context: Context,
           source_key: str) -> Message:
    now = context.now()
    written, now_written = notes.add_note(session, customer, request.user_id, note, now, source_key)
    if now_written:  # the audit log gets that a note was written and its length, never its text
        session.flush()
        access.record(session, at=now, user_id=request.user_id, channel_id=request.channel_id, action="note",
                      what="note written", customer_ref=customer.external_id,
                      detail={"note": written.id, "characters": len(note)})
    return render.note_saved(customer, written, now_written, notes.note_count(session, customer.id))


def _apply_preview(session: Session, preview: PendingWrite, customer: Customer, request: Request,
                   context: Context) -> Message:
    writing.writer(session, request, context, customer, WHAT)
    return _write(session, customer, str(preview.payload["text"]), request, context, f"preview:{preview.token}")


writing.APPLY["note"] = _apply_preview


def open_form(request: Request, context: Context) -> Message:
    """Button "Add note": the form, for those who may write."""
    return writing.form(request, context, WHAT, "/crm note {id} WHAT HAPPENED", render.note_form)


def submit_form(request: Request, context: Context) -> Message:
    """The Add note form submitted: written once per form (a second delivery finds it written)."""
    note = request.fields.get(render.NOTE_FIELD, "")
    problem = note_problem(note)
    if problem:
        raise FieldError(render.NOTE_FIELD, problem)
    with context.session_factory() as session:
        customer = writing.form_subject(session, request, context, WHAT, render.NOTE_FIELD)
        message = _write(session, customer, note, request, context, writing.form_source(request))
        session.commit()
        return message


def check_notes(text: str) -> str:
    """``/crm notes`` names a customer."""
    if not text.strip():
        raise UsageError(f"say whose notes: `/crm notes {examples.CUSTOMER}`")
    return text.strip()


def page(request: Request, context: Context) -> Message:
    """``/crm notes CUSTOMER`` and the Notes / Older buttons (``ID|offset``): newest first; the text
    only where the customer may be shown in full, else how many there are."""
    ref, _, offset_text = request.text.partition("|")
    offset = int(offset_text) if offset_text.isdigit() else 0
    with context.session_factory() as session:
        me = context.viewer(session, request)
        policy.require_individuals(me, policy.list_level(me), sorted(context.admins))
        customer = find_customer(session, check_notes(ref))
        level = policy.customer_level(me, customer.owner)
        policy.require_individuals(me, level, sorted(context.admins))
        total = notes.note_count(session, customer.id)
        shown = notes.notes_of(session, customer.id, render.NOTES_PAGE, offset) if level == policy.FULL else []
        request.disclosures.append({"what": "notes", "customer_ref": customer.external_id,
                                    "detail": {"fields": ["notes"] if shown else ["note count"], "level": level,
                                               "role": me.role, "place": me.place}})
        return render.notes_page(customer, shown, offset, total, level == policy.FULL)
