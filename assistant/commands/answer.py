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
from assistant.insights import UserFacingError
from assistant.logs import request_scope
from assistant.metrics import COMMAND_SECONDS, COMMANDS
from assistant.render.blocks import Message, text_message
from db import access

log = logging.getLogger(__name__)

Runner = Callable[[Request, Context], Message]


def reference() -> str:
    """A short id to quote to an admin, also written to the log with the traceback."""
    return uuid.uuid4().hex[:8]


def answer(runner: Runner, request: Request, context: Context, label: str = "") -> Message:
    """``runner(request, context)``, or the message explaining why it could not answer.

    Counted and timed under ``label`` (the command, e.g. ``/crm rules``) for the metrics.
    """
    label = label or getattr(runner, "__name__", "command")
    started = time.perf_counter()
    outcome = "ok"
    with request_scope():  # every line logged while answering carries one id
        try:
            return runner(request, context)
        except UserFacingError as exc:
            outcome = "user_error"
            return text_message(str(exc))
        except (OperationalError, PoolTimeout) as exc:
            outcome = "store_unreachable"
            ref = reference()
            log.error("store unreachable (ref %s): %s", ref, str(getattr(exc, "orig", exc)).splitlines()[0])
            return text_message(f"The customer store is not reachable right now (ref {ref}). Please try again in a "
                                "minute; if it lasts, tell your crm-bot admin.")
        except DBAPIError:
            outcome = "store_error"
            ref = reference()
            log.exception("database error (ref %s)", ref)
            return text_message(f"Something went wrong reading the customer store (ref {ref}); an admin can find it "
                                "in the log.")
        except Exception:
            outcome = "error"
            ref = reference()
            # What was typed may name a customer: the log gets the command and the text's length only.
            log.exception("unexpected error answering %s (%d characters typed, ref %s)", label, len(request.text),
                          ref)
            return text_message(f"Something went wrong on our side (ref {ref}); an admin can find it in the log.")
        finally:
            COMMANDS.labels(label, outcome).inc()
            COMMAND_SECONDS.labels(label).observe(time.perf_counter() - started)
            _audit(context, request, label, outcome)


def _audit(context: Context, request: Request, label: str, outcome: str) -> None:
    """Who asked what, where (the command and outcome, never the text: it may name a customer)."""
    if outcome == "store_unreachable":
        return
    try:
        with context.session_factory() as session:
            access.record(session, at=context.now(),
                          user_id=request.user_id, channel_id=request.channel_id, action="command", what=label,
                          detail={"outcome": outcome, "place": request.place})
            session.commit()
    except Exception:  # the answer matters more than its audit line; the failure is logged
        log.exception("could not write the audit entry for %s", label)
