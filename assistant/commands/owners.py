"""Account owners: ``/crm assign``, "assign 12748 to @jane", the card's Assign form, the terminal."""

from __future__ import annotations

from sqlalchemy.orm import Session

from assistant.commands import writing
from assistant.commands.base import Context, Request, UsageError
from assistant.commands.parsing import person, words
from assistant.errors import FieldError, UserFacingError
from assistant.render import writes as render
from assistant.render.blocks import Message
from assistant.views import examples
from db import owners, pending_writes
from db.models import Customer
from db.work_models import PendingWrite

USAGE = "/crm assign CUSTOMER @USER"
WHAT = "handing over an account"


def check(text: str) -> tuple[str, str]:
    """``/crm assign`` names a customer and a person (a mention, a member id, or ``me``)."""
    typed = words(text)
    if len(typed) != 2:
        raise UsageError(f"say which customer and who: `/crm assign {examples.CUSTOMER} @jane`\nUsage: {USAGE}")
    ref, who = typed
    return ref, who if who.lower() == "me" else person(who, "assign")


def new_owner(context: Context, user_id: str, allow_email: bool = False) -> str:
    """The member id, if Slack knows them as an active person (asked where Slack can be asked); at
    the terminal also a rep's e-mail address (such an owner gets no direct messages)."""
    if allow_email and owners.EMAIL.match(user_id):
        return user_id.lower()
    if not owners.MEMBER_ID.match(user_id):
        raise UserFacingError(f"{user_id[:40]!r} is not a Slack member id; mention the person (type @ and pick them)")
    if context.people is None:
        return user_id
    found = context.people(user_id)
    if found is None:
        raise UserFacingError(f"there is no Slack user {user_id} in this workspace; pick the new owner with @")
    if not found.active:
        raise UserFacingError(f"{found.name} ({user_id}) is deactivated in Slack, so they cannot own accounts; "
                              "pick someone else")
    if found.bot:
        raise UserFacingError(f"{found.name} is a bot; an account's owner must be a person")
    return user_id


def assign_now(session: Session, customer: Customer, owner: str, request: Request, context: Context,
               how: str) -> Message:
    """Make ``owner`` the customer's owner now (audited; committed by the caller)."""
    writing.writer(session, request, context, customer, WHAT)
    owner = new_owner(context, owner, allow_email=how == "terminal")
    previous = customer.owner
    if previous != owner:
        owners.assign(session, customer, owner, request.user_id, request.channel_id, context.now(), how)
    return render.assigned(customer, previous, owner, True)


def run(request: Request, context: Context) -> Message:
    """``/crm assign CUSTOMER @USER``: the change as a preview with Assign / Cancel."""
    ref, who = check(request.text)
    owner = request.user_id if who.lower() == "me" else who
    with context.session_factory() as session:
        writing.may_ask(session, request, context, WHAT)
        customer = writing.subject(session, ref)
        writing.writer(session, request, context, customer, WHAT)
        owner = new_owner(context, owner)
        if customer.owner == owner:
            return render.assigned(customer, owner, owner, True)
        token = pending_writes.propose(session, request.user_id, "assign", customer.external_id,
                                       {"owner": owner, "previous": customer.owner}, context.now())
        session.commit()
        return render.assign_preview(customer, customer.owner, owner, token)


def _apply_preview(session: Session, preview: PendingWrite, customer: Customer, request: Request,
                   context: Context) -> Message:
    return assign_now(session, customer, str(preview.payload["owner"]), request, context, "preview")


writing.APPLY["assign"] = _apply_preview


def open_form(request: Request, context: Context) -> Message:
    """Button "Assign": the form with a user picker, for those who may hand the account over."""
    return writing.form(request, context, WHAT, "/crm assign {id} @name", render.assign_form)


def submit_form(request: Request, context: Context) -> Message:
    """The Assign form submitted; a second delivery finds the owner already set and changes nothing."""
    owner = request.fields.get(render.OWNER_FIELD, "")
    if not owner:
        raise FieldError(render.OWNER_FIELD, "pick the new owner")
    with context.session_factory() as session:
        try:
            writing.may_ask(session, request, context, WHAT)
            customer = writing.subject(session, request.text)
            message = assign_now(session, customer, owner, request, context, "form")
        except UserFacingError as exc:
            raise FieldError(render.OWNER_FIELD, str(exc)) from None
        session.commit()
        return message
