"""``/crm admin grant|revoke|roles|audit``: roles of Slack users and the audit log (admins only)."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy.orm import Session

from assistant.commands.base import Context, Parser, Request, UsageError
from assistant.commands.parsing import words
from assistant.render.blocks import Message, section, sections
from assistant.views import policy
from db import access
from db.access_models import ROLES

MEMBER = re.compile(r"^(?:<@([UW][A-Z0-9]+)(?:\|[^>]*)?>|<!subteam\^(S[A-Z0-9]+)(?:\|[^>]*)?>|([UWS][A-Z0-9]{6,}))$")
"""A person (``<@U...>``) or a Slack user group (``<!subteam^S...>``), as Slack sends a mention."""
USAGE = ("/crm admin grant @user|@group ROLE | revoke @user|@group | roles | audit [--user @user] [--customer ID] "
         "[--since YYYY-MM-DD]")


def mention(member_id: str) -> str:
    """How Slack shows a person or a user group."""
    return f"<!subteam^{member_id}>" if member_id.startswith("S") else f"<@{member_id}>"


def _user(text: str) -> str:
    match = MEMBER.match(text)
    if match is None:
        raise UsageError(f"mention the person or user group (type @ and pick them), not {text[:40]!r}\n"
                         f"Usage: {USAGE}")
    return match.group(1) or match.group(2) or match.group(3)


def check(text: str) -> None:
    """Usage errors in the acknowledgement."""
    parts = words(text)
    action = parts[0].lower() if parts else "roles"
    if action == "grant":
        if len(parts) != 3:
            raise UsageError(f"say who and which role: `/crm admin grant @jane rep`\nUsage: {USAGE}")
        _user(parts[1])
        if parts[2].lower() not in ROLES:
            raise UsageError(f"no role {parts[2][:20]!r}; the roles are: {', '.join(ROLES)}")
    elif action == "revoke":
        if len(parts) != 2:
            raise UsageError(f"say whose role: `/crm admin revoke @jane`\nUsage: {USAGE}")
        _user(parts[1])
    elif action == "audit":
        _audit_args(parts[1:])
    elif action != "roles":
        raise UsageError(f"unknown admin command {action[:30]!r}\nUsage: {USAGE}")


def _audit_args(tokens: list[str]) -> tuple[str | None, str | None, datetime | None]:
    parser = Parser(prog="/crm admin audit", add_help=False)
    parser.add_argument("--user")
    parser.add_argument("--customer")
    parser.add_argument("--since")
    args = parser.parse_args(tokens)
    since = None
    if args.since:
        try:
            since = datetime.strptime(args.since, "%Y-%m-%d")
        except ValueError as exc:
            raise UsageError("--since takes a date: YYYY-MM-DD") from exc
    return (_user(args.user) if args.user else None), args.customer, since


def _require_admin(session: Session, request: Request, context: Context) -> None:
    policy.require_admin(context.viewer(session, request), context.admins)


def run(request: Request, context: Context) -> Message:
    """Grant or revoke a role, list roles, or read the audit log."""
    check(request.text)
    parts = words(request.text)
    action = parts[0].lower() if parts else "roles"
    with context.session_factory() as session:
        _require_admin(session, request, context)
        if action == "grant":
            user, role = _user(parts[1]), parts[2].lower()
            before = access.grant(session, user, role, request.user_id, context.now())
            access.record(session, at=context.now(), user_id=request.user_id, channel_id=request.channel_id,
                          action="role", what=f"grant {role}", detail={"user": user, "before": before})
            session.commit()
            text = f"{mention(user)} is now {role} (was {before or context.default_role + ', the default'})."
            if user.startswith("S"):
                text += " Its members have this role unless one is granted to them personally."
        elif action == "revoke":
            user = _user(parts[1])
            before = access.revoke(session, user)
            access.record(session, at=context.now(), user_id=request.user_id, channel_id=request.channel_id,
                          action="role", what="revoke", detail={"user": user, "before": before})
            session.commit()
            text = (f"{mention(user)} is back to the default role ({context.default_role})." if before
                    else f"{mention(user)} had no role granted; they have the default ({context.default_role}).")
        elif action == "audit":
            only_user, customer, since = _audit_args(parts[1:])
            entries = access.audit(session, only_user, customer, since, limit=40)
            lines = [f"{e.at:%Y-%m-%d %H:%M} <@{e.user_id}> {e.action}: {e.what}"
                     + (f" {e.customer_ref}" if e.customer_ref else "")
                     + (f" ({e.detail.get('level')})" if e.detail.get("level") else "") for e in entries]
            text = "\n".join(lines) or "No audit entries match."
            return Message(text=text[:2900], blocks=sections(lines) if lines else [section(text)])
        else:
            granted = access.roles(session)
            configured = [f"• <@{a}>: admin (CRM_ADMINS)" for a in sorted(context.admins)]
            text = "\n".join(configured + [f"• {mention(r.user_id)}: {r.role}" for r in granted]) or "No roles granted."
            text += f"\nEveryone else: {context.default_role}."
    return Message(text=text, blocks=[section(text)])
