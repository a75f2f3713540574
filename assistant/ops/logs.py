"""Logging set-up: text or JSON lines, request ids, and no secrets or e-mail addresses in the logs.

The redaction filter rewrites every record's message and arguments before any handler sees it,
so a token pasted into a command, or an address in a customer's card, never reaches the log.
"""

from __future__ import annotations

import contextvars
import logging
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from pythonjsonlogger.json import JsonFormatter

REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
SECRET = re.compile(r"\b(xox[abprs]|xapp|xoxe(?:\.xox[bp])?)-[A-Za-z0-9-]+")
EMAIL = re.compile(r"\b([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})\b")
PASSWORD_IN_URL = re.compile(r"(://[^:/@\s]+:)[^@\s]+@")
REJECTED_BODY = re.compile(r"(Invalid request signature detected \(.*?body: ).*\)\s*$", re.DOTALL)
"""slack_bolt logs a rejected request's whole body at INFO: the typed text and its response URL."""


def redact(text: str) -> str:
    """Tokens become ``xoxb-***``, addresses ``j***@example.com``, URL passwords ``***``; the body
    of a request rejected for its signature is left out (it holds what someone typed)."""
    text = REJECTED_BODY.sub(r"\1not logged)", text)
    text = SECRET.sub(lambda m: m.group(1) + "-***", text)
    text = PASSWORD_IN_URL.sub(r"\1***@", text)
    return EMAIL.sub(r"\1***@\2", text)


class RedactingFilter(logging.Filter):
    """Applied to every record: the formatted message is redacted and the request id attached."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = ()
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        record.request_id = REQUEST_ID.get()
        return True


@contextmanager
def request_scope() -> Iterator[str]:
    """A fresh request id for the log lines written while answering one request."""
    token = REQUEST_ID.set(uuid.uuid4().hex[:12])
    try:
        yield REQUEST_ID.get()
    finally:
        REQUEST_ID.reset(token)


def configure_logging(level: str, fmt: str) -> None:
    """Root logging: ``fmt`` is ``text`` or ``json``; every handler redacts."""
    handler = logging.StreamHandler()
    if fmt == "json":
        handler.setFormatter(JsonFormatter("{asctime}{levelname}{name}{message}{request_id}", style="{",
                                           rename_fields={"asctime": "time", "levelname": "level"}))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Dask logs every connection and worker start at INFO; the refresh's own lines say what matters.
    logging.getLogger("distributed").setLevel(max(logging.WARNING, root.level))
