"""Run a command and always get a message back: the one place errors become words.

Two tiers: problems the user can fix (``UserFacingError``) are shown as written; anything else
(a bug, the database down) is logged with its traceback under a short reference id, and the
user gets the reference, never the traceback.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from assistant.commands.base import Context, Request
from assistant.errors import FieldError, UserFacingError
from assistant.ops.logs import request_scope
from assistant.ops.metrics import COMMAND_SECONDS, COMMANDS
from assistant.render.blocks import Message, text_message
from db import access

log = logging.getLogger(__name__)

Runner = Callable[[Request, Context], Message]


def reference() -> str:
    """A short id to quote to an admin, also written to the log with the traceback."""
    return uuid.uuid4().hex[:8]


def answer(runner: Runner, request: Request, context: Context, label: str = "") -> Message:
    """``runner(request, context)``, or the message explaining why it could not answer.

    Counted and timed under ``label`` (the command, e.g. ``/crm rules``) for the metrics, and
    audited: the command's entry and the disclosures the runner owes (``Request.disclosures``)
    are written in one transaction; an answer that discloses customers is not shown unless they
    are on record.
    """
    label = label or getattr(runner, "__name__", "command")
    started = time.perf_counter()
    with request_scope():  # every line logged while answering carries one id
        outcome, message = _run(runner, request, context, label)
        recorded = _audit(context, request, label, outcome)
        if outcome == "ok" and request.disclosures and not recorded:
            outcome = "audit_failed"
            message = text_message(f"This answer could not be recorded in the audit log, so it is not shown (ref "
                                   f"{reference()}). Please try again; if it lasts, tell your crm-bot admin.")
        COMMANDS.labels(label, outcome).inc()
        COMMAND_SECONDS.labels(label).observe(time.perf_counter() - started)
        return message


def _run(runner: Runner, request: Request, context: Context, label: str) -> tuple[str, Message]:
    """The runner's message and ``ok``, or the words for what went wrong and its outcome."""
    try:
        return "ok", runner(request, context)
    except FieldError as exc:
        message = text_message(str(exc))
        message.field_errors = {exc.block_id: str(exc)}
        return "user_error", message
    except UserFacingError as exc:
        return "user_error", text_message(str(exc))
    except (OperationalError, PoolTimeout) as exc:
        ref = reference()
        log.error("store unreachable (ref %s): %s", ref, str(getattr(exc, "orig", exc)).splitlines()[0])
        return "store_unreachable", text_message(
            f"The customer store is not reachable right now (ref {ref}). Please try again in a minute; if it "
            "lasts, tell your crm-bot admin.")
    except DBAPIError:
        ref = reference()
        log.exception("database error (ref %s)", ref)
        return "store_error", text_message(
            f"Something went wrong reading the customer store (ref {ref}); an admin can find it in the log.")
    except Exception:
        ref = reference()
        # What was typed may name a customer: the log gets the command and the text's length only.
        log.exception("unexpected error answering %s (%d characters typed, ref %s)", label, len(request.text), ref)
        return "error", text_message(f"Something went wrong on our side (ref {ref}); an admin can find it in the log.")


def _audit(context: Context, request: Request, label: str, outcome: str) -> bool:
    """Who asked what, where (the command and outcome, never the text: it may name a customer), and,
    if the answer is shown, whose data it disclosed.  True when on record."""
    if outcome == "store_unreachable":
        return False
    try:
        with context.session_factory() as session:
            now = context.now()
            if outcome == "ok":
                for disclosed in request.disclosures:
                    access.record(session, at=now, user_id=request.user_id, channel_id=request.channel_id,
                                  action="disclosure", **disclosed)
            access.record(session, at=now, user_id=request.user_id, channel_id=request.channel_id, action="command",
                          what=label, detail={"outcome": outcome, "place": request.place})
            session.commit()
            return True
    except Exception:  # logged; the caller decides whether the answer may still be shown
        log.exception("could not write the audit entries for %s", label)
        return False
