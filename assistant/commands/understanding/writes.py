"""Writes asked for in words: "note for 12748: asked for the catalogue", "assign 12748 to @jane",
"remind me to call 12748 friday 10:00"; and "my follow-ups".

Read before anything else, on the text as typed (a note's words are never spelling-corrected),
and only when the customer is written as an id, an e-mail or a quoted name: "note how revenue
changed" stays a question.  The reading is the write's command, whose answer is a preview with
Save / Cancel, so nothing is written from words without a click.
"""

from __future__ import annotations

import re

from assistant.commands.understanding.reader import Reading, Understanding

LEADING_MENTION = re.compile(r"^\s*<@[A-Z0-9]+(?:\|[^>]*)?>[\s,:]*")
WHO = r"(?P<who>#?\d[\w-]*|[\w.+-]+@[\w-]+\.[\w.-]+|\"[^\"]+\"|\u201c[^\u201d]+\u201d)"
"""A customer as a write must name them: an id, an e-mail, or a name in quotes."""
SEPARATOR = r"\s*(?:[:\-\u2013\u2014,]\s*|\s+that\s+|\s+)"
PLEASE = r"^(?:please\s+|pls\s+|can you\s+|could you\s+)?"
FLAGS = re.IGNORECASE | re.DOTALL

NOTE = re.compile(PLEASE + r"(?:(?:add|log|write|save|make|take|record|leave|put)\s+(?:a\s+|this\s+|the\s+)?)?"
                  r"note\s*(?:for|on|to|about|re:?|against|under)?\s+(?:customer\s+|account\s+)?" + WHO + SEPARATOR
                  + r"(?P<text>\S.*)$", FLAGS)
CONTACT = re.compile(PLEASE + r"(?:log|record|add|note)\s+(?:a\s+|the\s+|my\s+)?(?P<kind>call|phone call|meeting|"
                     r"visit|e-?mail|chat|demo)\s+(?:with|to|from|for|at)\s+(?:customer\s+|account\s+)?" + WHO
                     + SEPARATOR + r"(?P<text>\S.*)$", FLAGS)
READ_NOTES = re.compile(PLEASE + r"(?:(?:show|list|read|see|get|open|give)\s+(?:me\s+)?)?(?:the\s+|all\s+|any\s+)?"
                        r"notes\s+(?:for|on|of|about)\s+(?:customer\s+|account\s+)?" + WHO + r"\s*\??$|"
                        r"^what notes (?:do (?:we|i) have |are there |exist )?(?:for|on|about)\s+(?:customer\s+)?"
                        + WHO.replace("?P<who>", "?P<who2>") + r"\s*\??$", FLAGS)
OWNER = r"(?P<owner><@[UW][A-Z0-9]+(?:\|[^>]*)?>|me|myself)"
ASSIGN = re.compile(PLEASE + r"(?:re-?)?(?:assign|give|hand(?:\s+over)?|transfer|move|pass)\s+"
                    r"(?:customer\s+|account\s+|the\s+account\s+(?:of\s+)?)?" + WHO
                    + r"\s+(?:over\s+)?to\s+" + OWNER + r"\s*[.!]?$", FLAGS)
MAKE_OWNER = re.compile(PLEASE + r"make\s+" + OWNER + r"\s+(?:the\s+)?(?:new\s+)?owner\s+of\s+"
                        r"(?:customer\s+|account\s+)?" + WHO + r"\s*[.!]?$", FLAGS)


REMIND = re.compile(PLEASE + r"(?:remind|ping|nudge)\s+me\s+(?P<rest>\S.*)$", FLAGS)
SET_FOLLOW_UP = re.compile(PLEASE + r"(?:set|add|create|schedule|make|put in)\s+(?:a\s+|an\s+)?"
                           r"(?:follow[- ]?up|reminder|task|call-?back)\s+(?:for|on|with|about|to call|to ring)\s+"
                           r"(?P<rest>\S.*)$", FLAGS)
FOLLOW_UP_WITH = re.compile(PLEASE + r"(?P<verb>follow[- ]?up|call back|check in)\s+(?:with|on)\s+(?P<rest>\S.*)$",
                            FLAGS)
MY_TASKS = re.compile(PLEASE + r"(?:(?:show|list|what are|what's|whats|what is|give me|open|see)\s+)?(?:me\s+)?"
                      r"(?:all\s+)?(?:on\s+)?"
                      r"(?:my|our)\s+(?:open\s+|overdue\s+|due\s+)?(?:tasks|follow[- ]?ups|reminders|to-?dos|"
                      r"to-?do list|task list)"
                      r"(?:\s+please|\s+pls)?\s*\??$"
                      r"|^what (?:do i have|have i got) (?:to do|due)(?: today| this week)?\s*\??$", FLAGS)


def _who(match: re.Match[str], group: str = "who") -> str:
    """The customer as ``/crm note`` and ``/crm assign`` read it (a quoted name keeps straight quotes)."""
    who = match.group(group).lstrip("#")
    return '"' + who.strip('"\u201c\u201d') + '"' if who[:1] in '"\u201c' else who


def reading(text: str) -> Understanding | None:
    """The write (or notes look-up) ``text`` asks for, or ``None`` when it asks for no write."""
    typed = LEADING_MENTION.sub("", text).strip()
    contact = CONTACT.match(typed)
    if contact:
        kind = contact.group("kind").capitalize()
        return _note(_who(contact), f"{kind}: {contact.group('text').strip()}")
    note = NOTE.match(typed)
    if note:
        return _note(_who(note), note.group("text").strip())
    remind = REMIND.match(typed) or SET_FOLLOW_UP.match(typed)
    if remind:
        rest = remind.group("rest").strip()
        return Understanding(Reading("/crm remind", f"me {'' if remind.re is REMIND else 'about '}{rest}",
                                     "Set a follow-up"), intent="remind")
    follow = FOLLOW_UP_WITH.match(typed)
    if follow:
        return Understanding(Reading("/crm remind", f"me to {follow.group('verb').lower()} with "
                                     f"{follow.group('rest').strip()}", "Set a follow-up"), intent="remind")
    if MY_TASKS.match(typed):
        return Understanding(Reading("/crm tasks", "", "Your open follow-ups"), intent="tasks")
    notes = READ_NOTES.match(typed)
    if notes:
        who = _who(notes, "who" if notes.group("who") else "who2")
        return Understanding(Reading("/crm notes", who, f"Notes on {who}"), intent="notes")
    assign = ASSIGN.match(typed) or MAKE_OWNER.match(typed)
    if assign:
        owner = assign.group("owner")
        owner = "me" if owner.lower() in ("me", "myself") else owner
        who = _who(assign)
        return Understanding(Reading("/crm assign", f"{who} {owner}", f"Assign {who}"), intent="assign")
    return None


def _note(who: str, text: str) -> Understanding:
    # /crm note reads a quoted name as one customer; the text goes on as typed.
    return Understanding(Reading("/crm note", f"{who} {text}", f"Note on {who}"), intent="note")
