"""What every write from Slack shares: whom it is about, who may make it, and its Save / Cancel.

A write typed as a command or in words is shown first as a preview (``db.pending_writes``) and
made only by its Save button; a form (modal) is its own preview and writes on submit, once per
view (its id is the note's ``source_key``).  Each write and its audit entry commit together.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from assistant.commands.base import Context, Request
from assistant.errors import FieldError, UserFacingError
from assistant.render import writes as render
from assistant.render.blocks import Message
from assistant.views import policy
from assistant.views.insights import find_customer, normalise_query
from assistant.views.policy import Viewer
from db import erased, pending_writes
from db.models import Customer
from db.work_models import PendingWrite


def subject(session: Session, ref: str) -> Customer:
    """The one customer a write is about; an erased one is said to be erased (a button clicked
    on an old card), several matches are listed so the person names the id."""
    when = erased.erased_at(session, normalise_query(ref))
    if when is not None:
        raise UserFacingError(f"customer {normalise_query(ref)[:64]} was erased on {when:%Y-%m-%d}: nothing can be "
                              "written about them any more")
    return find_customer(session, ref)


WRITING_ROLES = ("admin", "manager", "rep")


def may_ask(session: Session, request: Request, context: Context, what: str) -> Viewer:
    """Before looking anyone up: only writing roles, where individuals may be shown (a look-up's
    "did you mean" names people, and would tell whether a customer exists)."""
    me = context.viewer(session, request)
    policy.require_individuals(me, policy.list_level(me), sorted(context.admins))
    if me.role not in WRITING_ROLES:
        policy.require_writer(me, None, sorted(context.admins), what)
    return me


def writer(session: Session, request: Request, context: Context, customer: Customer, what: str) -> Viewer:
    """The person asking, if they may make this write about this customer (else a refusal in words)."""
    me = context.viewer(session, request)
    policy.require_writer(me, customer.owner, sorted(context.admins), what)
    return me


def form(request: Request, context: Context, what: str, typed_instead: str,
         build: Callable[[Customer], dict[str, Any]]) -> Message:
    """A button's form about the customer ``request.text`` names, for those who may make the write;
    its text says what to type (``typed_instead`` with ``{id}``) when the form cannot open."""
    with context.session_factory() as session:
        may_ask(session, request, context, what)
        customer = subject(session, request.text)
        writer(session, request, context, customer, what)
        return Message(text=f"The form could not open in time; type `{typed_instead.format(id=customer.external_id)}`"
                            " instead.", modal=build(customer))


def form_subject(session: Session, request: Request, context: Context, what: str, field: str) -> Customer:
    """The customer a submitted form is about (its ``private_metadata``), if the person may still
    make this write; any refusal is shown beside ``field``, where they can read it."""
    try:
        may_ask(session, request, context, what)
        customer = subject(session, request.text)
        writer(session, request, context, customer, what)
    except UserFacingError as exc:
        raise FieldError(field, str(exc)) from None
    return customer


def form_source(request: Request) -> str:
    """What makes a form's write happen once: its view id (a random key where there is none)."""
    return request.source or f"form:{uuid.uuid4().hex}"


Apply = Callable[[Session, PendingWrite, Customer, Request, Context], Message]
"""Carries out a saved preview of one kind, in the caller's transaction."""
APPLY: dict[str, Apply] = {}
"""Kind of preview -> what Save does (filled by the modules that make previews)."""
WHAT = {"note": "the note", "assign": "the change of owner", "follow_up": "the follow-up"}


def save(request: Request, context: Context) -> Message:
    """Button Save: make the previewed write, exactly once whoever clicks how often."""
    return _decide(request, context, "saved")


def cancel(request: Request, context: Context) -> Message:
    """Button Cancel: the preview is dropped; nothing is written."""
    return _decide(request, context, "cancelled")


def _decide(request: Request, context: Context, status: str) -> Message:
    token = request.text.strip()
    with context.session_factory() as session:
        now = context.now()
        me = context.viewer(session, request)
        policy.require_individuals(me, policy.list_level(me), sorted(context.admins))
        decision = pending_writes.decide(session, token, request.user_id, status, now)
        preview = decision.preview
        if preview is None:
            raise UserFacingError("this preview is not yours, or it was erased with its customer; nothing was "
                                  "written")
        what = WHAT.get(preview.kind, "it")
        if decision.expired:
            raise UserFacingError(f"this preview is more than a day old, so {what} was not saved: what it showed "
                                  "may have changed. Type it again.")
        if not decision.decided_now:
            session.rollback()
            if preview.status == status == "saved":
                return render.already(f"{what.capitalize()} was already saved; nothing was written twice.")
            return render.already(f"{what.capitalize()} was already {preview.status}; this click changed nothing.")
        if status == "cancelled":
            session.commit()
            return render.cancelled(what)
        customer = subject(session, preview.customer_ref)
        message = APPLY[preview.kind](session, preview, customer, request, context)
        session.commit()
        return message
