"""List exports for campaign tools: the Export CSV button (``render.insights.export_button``) on a
segment, a country, the accounts at risk and a model's scores.  The file goes to the asker's
direct messages only (the Slack layer uploads ``Message.file``), its rows at the asker's
disclosure level there; each export is audited with its list, row count, fields and level.  Rows
stream from the store into a temporary file.
"""

from __future__ import annotations

from assistant.commands.base import Context, Request
from assistant.errors import UserFacingError
from assistant.jobs.exports import temporary_csv
from assistant.render.blocks import FileToSend, Message, section
from assistant.views.list_exports import KINDS, list_export


def _parts(text: str) -> tuple[str, str, str]:
    kind, _, rest = text.strip().partition("|")
    first, _, second = rest.partition("|")
    if kind not in KINDS:
        raise UserFacingError("this button names no list to export; open the list again and press Export CSV")
    return kind, first.strip()[:80], second.strip()[:80]


def export(request: Request, context: Context) -> Message:
    """Button Export CSV: the whole list as a CSV, to the asker's direct messages."""
    kind, first, second = _parts(request.text)
    with context.session_factory() as session:
        me = context.viewer(session, request)
        listed = list_export(session, me, kind, first, second)
        path, count = temporary_csv(listed.columns, listed.rows)
    if count == 0:
        path.unlink(missing_ok=True)
        return Message(text=f"{listed.title}: nobody in this list, so there is nothing to export.",
                       blocks=[section(f"{listed.title}: nobody in this list, so there is nothing to export.")])
    request.disclosures.append({"what": "export", "detail": {
        "list": listed.title, "rows": count, "fields": list(listed.columns), "level": listed.level,
        "role": me.role, "sent_to": "direct message"}})
    text = (f"{listed.title}: {count:,} customer{'s' if count != 1 else ''} as a CSV in your direct messages "
            f"({listed.level} details).")
    return Message(text=text, blocks=[section(text)],
                   file=FileToSend(path, listed.filename, listed.title,
                                   f"{listed.title}: {count:,} rows ({listed.level} details). Keep it where "
                                   "customer data may be kept; it is in the audit log."))
