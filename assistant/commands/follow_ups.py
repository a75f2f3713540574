"""Follow-ups: ``/crm remind``, "remind me to call 12748 friday 10:00", the card's Follow up form,
``/crm tasks``, and the reminder's Done and Snooze buttons.

A time is read in the asker's Slack time zone (``users.info``) and stored in UTC.  Typed or
said, a follow-up is a preview first (Save writes it); the form writes on submit, once per view.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from assistant.commands import when as reading
from assistant.commands import writing
from assistant.commands.base import Context, Request, UsageError
from assistant.commands.notes import note_problem
from assistant.commands.parsing import words
from assistant.errors import FieldError, UserFacingError
from assistant.render import follow_ups as render
from assistant.render.blocks import Message
from assistant.views import examples, policy
from db import access, follow_ups, owners, pending_writes
from db.models import Customer
from db.work_models import NOTE_CHARS, FollowUp, PendingWrite

USAGE = "/crm remind me to WHAT CUSTOMER WHEN"
TASKS_USAGE = "/crm tasks"
WHAT = "setting a follow-up"
EXAMPLE = f"/crm remind me to call {examples.CUSTOMER} friday 10:00"

CONNECTORS = ("about", "for", "with", "re", "re:", "customer", "account", "regarding")
"""Words that introduce the customer and are not part of the task ("in 3 days *about* 12748")."""
VERBS = ("call", "ring", "phone", "email", "e-mail", "mail", "text", "visit", "meet", "contact", "see", "ping",
         "chase", "message", "thank", "invoice", "quote")
ID_LIKE = re.compile(r"^#?\d[\w-]*$")
SHORT_TIME = re.compile(r"^\d{1,2}(?:[:.]\d{2})?(?:am|pm)?$|^\d{4}-\d{1,2}-\d{1,2}$|^\d{1,2}/\d{1,2}(?:/\d{2,4})?$|"
                        r"^\d{1,2}(?:st|nd|rd|th)$", re.IGNORECASE)
EDGE_WORDS = ("to", "about", "on", "at", "for", "and", "then", "-", ":", ",", "that", "by", "please", "pls", "thanks")


@dataclass(frozen=True)
class Parts:
    """A reminder as typed: whom it is about, what to do, when (still to be read in a time zone)."""

    customer: str
    task: str
    when: str


def _customer_index(tokens: list[str]) -> int | None:
    """Which word names the customer: an e-mail or a quoted name; else an id after "about",
    "call"...; else the first id that is not a time ("10:00", "3" in "in 3 days")."""
    def lower(i: int) -> str:
        return tokens[i].lower().strip(",.:;") if 0 <= i < len(tokens) else ""

    for i, token in enumerate(tokens):
        if owners.EMAIL.match(token.strip(",.;")) or " " in token.strip():
            return i
    plain = [i for i, t in enumerate(tokens) if ID_LIKE.match(t.strip(",.;:"))
             and lower(i + 1) not in reading.UNITS and lower(i - 1) != "in"]
    introduced = [i for i in plain if lower(i - 1) in CONNECTORS + VERBS]
    if introduced:
        return introduced[0]
    untimely = [i for i in plain if not SHORT_TIME.match(tokens[i].strip(",.;:"))
                and not (len(tokens[i]) == 4 and reading.temporal(lower(i - 1)) and lower(i - 1) not in ("to", ""))]
    return untimely[0] if untimely else None


def split(text: str, now: datetime | None = None) -> Parts:
    """``me to call 12748 friday 10:00`` -> (12748, call, friday 10:00)."""
    tokens = words(text)
    if tokens and tokens[0].lower() in ("me", "myself"):
        tokens = tokens[1:]
    elif tokens and tokens[0].startswith("<@"):
        raise UsageError("I can only remind you yourself. To give someone else an account's reminders, hand them "
                         f"the account: `/crm assign {examples.CUSTOMER} @name`")
    where = _customer_index(tokens)
    if where is None:
        raise UsageError(f"say which customer (an id, an e-mail or a name in quotes) and when: `{EXAMPLE}`\n"
                         f"Usage: {USAGE}")
    customer = tokens[where].strip(",.;:").lstrip("#")
    start = where - 1 if where > 0 and tokens[where - 1].lower() in CONNECTORS else where
    rest = tokens[:start] + tokens[where + 1:]
    span = reading.time_span(rest, now or datetime.now(UTC))
    if span is None:
        raise UsageError(f"say when: {reading.EXAMPLES}, e.g. `{EXAMPLE}`")
    phrase = " ".join(w.strip(",;:!?") for w in rest[span[0]:span[1]])
    task_words = rest[:span[0]] + rest[span[1]:]
    while task_words and task_words[0].lower() in EDGE_WORDS:
        task_words = task_words[1:]
    while task_words and task_words[-1].lower() in EDGE_WORDS:
        task_words = task_words[:-1]
    task = " ".join(task_words).strip(" ,:;-")
    task = task[:1].upper() + task[1:] if task else render.DEFAULT_TASK
    return Parts(customer, task, phrase)


def check(text: str) -> Parts:
    """``/crm remind`` names a customer and a time; the task is of sane length."""
    parts = split(text)
    if len(parts.task) > NOTE_CHARS:
        raise UsageError(f"what to do holds at most {NOTE_CHARS:,} characters; this has {len(parts.task):,}")
    return parts


def zone_of(context: Context, user_id: str) -> str:
    """The person's Slack time zone, where Slack can be asked; else the installation's."""
    person = context.people(user_id) if context.people is not None else None
    return person.timezone if person is not None and person.timezone else context.default_timezone


def run(request: Request, context: Context) -> Message:
    """``/crm remind me to ...``: the follow-up as a preview with Save / Cancel; nothing set yet."""
    parts = check(request.text)
    with context.session_factory() as session:
        writing.may_ask(session, request, context, WHAT)
        customer = writing.subject(session, parts.customer)
        writing.writer(session, request, context, customer, WHAT)
        zone = zone_of(context, request.user_id)
        due = reading.read_when(parts.when, zone, context.clock())
        token = pending_writes.propose(session, request.user_id, "follow_up", customer.external_id,
                                       {"text": parts.task, "due": due.utc.isoformat(), "zone": due.zone},
                                       context.now())
        session.commit()
        return render.follow_up_preview(customer, parts.task, due.local, due.zone, due.note, token)


def _write(session: Session, customer: Customer, task: str, due: datetime, zone: str, request: Request,
           context: Context, source_key: str) -> Message:
    now = context.now()
    row, new = follow_ups.add(session, customer, request.user_id, request.user_id, due, zone, task, now, source_key)
    if new:  # audited without its text, like a note
        session.flush()
        access.record(session, at=now, user_id=request.user_id, channel_id=request.channel_id, action="follow_up",
                      what="follow-up set", customer_ref=customer.external_id,
                      detail={"follow_up": row.id, "due": f"{due:%Y-%m-%dT%H:%M}Z", "characters": len(task)})
    return render.follow_up_saved(customer, row, new, follow_ups.open_count(session, request.user_id))


def _apply_preview(session: Session, preview: PendingWrite, customer: Customer, request: Request,
                   context: Context) -> Message:
    writing.writer(session, request, context, customer, WHAT)
    due = datetime.fromisoformat(str(preview.payload["due"]))
    if due <= context.now():
        raise UserFacingError(f"this preview's time ({due:%Y-%m-%d %H:%M} UTC) has passed, so the follow-up was not "
                              "set; type it again with a time to come")
    return _write(session, customer, str(preview.payload["text"]), due, str(preview.payload["zone"]), request,
                  context, f"preview:{preview.token}")


writing.APPLY["follow_up"] = _apply_preview


def open_form(request: Request, context: Context) -> Message:
    """Button "Follow up": the form (a day, a time, what to do), for those who may write."""
    zone = zone_of(context, request.user_id)
    tomorrow = (context.clock().astimezone(reading.zone_of(zone)) + timedelta(days=1)).date()
    return writing.form(request, context, WHAT, "/crm remind me to call {id} tomorrow 9:00",
                        lambda customer: render.follow_up_form(customer, zone, tomorrow))


def submit_form(request: Request, context: Context) -> Message:
    """The Follow up form submitted: set once per form (a second delivery finds it set)."""
    day, at = request.fields.get(render.DATE_FIELD, ""), request.fields.get(render.TIME_FIELD, "")
    task = request.fields.get(render.TASK_FIELD, "").strip() or render.DEFAULT_TASK
    if not day:
        raise FieldError(render.DATE_FIELD, "pick a day")
    if not at:
        raise FieldError(render.TIME_FIELD, "pick a time")
    if note_problem(task):
        raise FieldError(render.TASK_FIELD, str(note_problem(task)))
    zone = zone_of(context, request.user_id)
    try:
        due = reading.read_when(f"{day} {at}", zone, context.clock())
    except UserFacingError as exc:
        raise FieldError(render.DATE_FIELD, str(exc)) from None
    with context.session_factory() as session:
        customer = writing.form_subject(session, request, context, WHAT, render.TASK_FIELD)
        message = _write(session, customer, task, due.utc, due.zone, request, context, writing.form_source(request))
        session.commit()
        return message


def _mine(session: Session, request: Request, context: Context, follow_up_id: str) -> tuple[FollowUp, Customer]:
    """The follow-up a button names, if the person clicking is the one reminded (or a manager or admin)."""
    me = context.viewer(session, request)
    policy.require_individuals(me, policy.list_level(me), sorted(context.admins))
    found = follow_ups.get(session, int(follow_up_id)) if follow_up_id.isdigit() and len(follow_up_id) < 10 else None
    if found is None:
        raise UserFacingError("that follow-up is gone (its customer was erased); nothing changed")
    if found[0].owner != request.user_id and me.role not in ("admin", "manager"):
        raise UserFacingError("only the person it reminds (or a manager or admin) can close or snooze a follow-up")
    if policy.customer_level(me, found[1].owner) != policy.FULL and found[0].owner != request.user_id:
        raise UserFacingError("follow-ups about this customer are closed or snoozed where the customer is shown in "
                              "full: in a direct message with crm-bot")
    return found


def done(request: Request, context: Context) -> Message:
    """Button Done (on a reminder, in ``/crm tasks``): the follow-up is closed, once."""
    with context.session_factory() as session:
        follow_up, customer = _mine(session, request, context, request.text.strip())
        closed = follow_ups.mark_done(session, follow_up.id, request.user_id, context.now())
        if closed:
            access.record(session, at=context.now(), user_id=request.user_id, channel_id=request.channel_id,
                          action="follow_up", what="follow-up done", customer_ref=customer.external_id,
                          detail={"follow_up": follow_up.id})
        session.commit()
        session.refresh(follow_up)
        return render.done(customer, follow_up, closed)


def _snooze(request: Request, context: Context, days: int) -> Message:
    follow_up_id, _, token = request.text.strip().partition("|")
    with context.session_factory() as session:
        follow_up, customer = _mine(session, request, context, follow_up_id)
        due = reading.later(context.clock(), follow_up.timezone, days)
        moved = follow_ups.snooze(session, follow_up.id, token, due)
        if moved:
            access.record(session, at=context.now(), user_id=request.user_id, channel_id=request.channel_id,
                          action="follow_up", what="follow-up snoozed", customer_ref=customer.external_id,
                          detail={"follow_up": follow_up.id, "due": f"{due:%Y-%m-%dT%H:%M}Z", "days": days})
        session.commit()
        session.refresh(follow_up)
        return render.snoozed(customer, follow_up, moved)


def snooze_day(request: Request, context: Context) -> Message:
    """Button Snooze 1 day: the same reminder tomorrow at this time (the asker's calendar)."""
    return _snooze(request, context, 1)


def snooze_week(request: Request, context: Context) -> Message:
    """Button Snooze 1 week."""
    return _snooze(request, context, 7)


def check_tasks(text: str) -> int:
    """``/crm tasks`` takes nothing (the More button passes where the page starts)."""
    if text.strip() and not (text.strip().isdigit() and len(text.strip()) < 7):
        raise UsageError(f"`/crm tasks` lists your open follow-ups and takes nothing more\nUsage: {TASKS_USAGE}")
    return int(text.strip() or 0)


def tasks(request: Request, context: Context) -> Message:
    """``/crm tasks``: my open follow-ups, overdue first, each with Done."""
    offset = check_tasks(request.text)
    with context.session_factory() as session:
        me = context.viewer(session, request)
        policy.require_individuals(me, policy.list_level(me), sorted(context.admins))
        now = context.now()
        rows = shown_in_full(me, follow_ups.open_of(session, request.user_id, render.TASKS_PAGE, offset))
        for _, customer, _ in rows:
            request.disclosures.append({"what": "follow-ups", "customer_ref": customer.external_id,
                                        "detail": {"fields": ["id", "name", "follow-up"], "role": me.role,
                                                   "place": me.place}})
        return render.tasks_page(rows, now, offset, follow_ups.open_count(session, request.user_id),
                                 follow_ups.open_count(session, request.user_id, before=now))


def shown_in_full(me: policy.Viewer, rows: list[tuple[FollowUp, Customer]]) -> list[tuple[FollowUp, Customer, bool]]:
    """Each row with whether what to do may be shown here: like a note, only where the customer is
    shown in full (a follow-up's words are often a note's)."""
    return [(f, c, policy.customer_level(me, c.owner) == policy.FULL) for f, c in rows]
