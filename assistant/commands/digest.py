"""``/crm digest subscribe|list|unsubscribe|preview``: channels' standing orders for the digest.

    /crm digest subscribe [#channel] [weekly|daily] [mon 09:00] [Europe/London] [--segment NAME] [--quiet skip]

Words can come in any order: a channel mention, a cadence, a weekday, a time, a time zone; what
is left out keeps its default (this channel, weekly, Monday 09:00, ``CRM_TIMEZONE``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC

from sqlalchemy.orm import Session

from analytics.rfm import SEGMENTS
from assistant.commands.base import Context, Parser, Request, UsageError
from assistant.commands.parsing import person, words
from assistant.errors import UserFacingError
from assistant.jobs.poster import MEMBER_ID
from assistant.jobs.schedule import WEEKDAYS, describe, next_fire, zone
from assistant.render.blocks import Message, section
from assistant.render.blocks import context as context_block
from assistant.render.digest import digest_message
from assistant.views import policy
from assistant.views.digest import build_digest
from db import access, digests
from db.digest_models import DigestDelivery

CHANNEL = re.compile(r"^(?:<#([CGD][A-Z0-9]+)(?:\|[^>]*)?>|#?([CGD][A-Z0-9]{6,}))$")
TIME = re.compile(r"^([01]?\d|2[0-3])[:.h]?([0-5]\d)$")
DAY_NAMES = {name: i for i, day in enumerate(WEEKDAYS)
             for name in (day, ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")[i])}
USAGE = ("/crm digest subscribe [#channel] [weekly|daily] [mon 09:00] [TIMEZONE] [--segment NAME] [--quiet skip] "
         "[--allow-shared] [--notify @person] | list [all] | unsubscribe [#channel] | preview [daily] "
         "[--segment NAME]")
DEFAULT_TIMEZONE = "UTC"


@dataclass
class Schedule:
    """What a subscribe command asked for."""

    channel_id: str
    cadence: str = "weekly"
    weekday: int = 0
    hour: int = 9
    minute: int = 0
    timezone: str = DEFAULT_TIMEZONE
    segment: str | None = None
    quiet: str = "short"
    allow_shared: bool = False
    """An admin allows the digest although the channel is shared with another organisation."""
    notify: str | None = None
    """Who is told if the digest cannot be posted (default: whoever subscribes)."""


def _segment(name: str | None) -> str | None:
    if name is None:
        return None
    wanted = {s.lower(): s for s in SEGMENTS}
    if name.lower() not in wanted:
        raise UsageError(f"no segment called {name[:60]!r}; the segments are: {', '.join(SEGMENTS)}")
    return wanted[name.lower()]


def parse_schedule(tokens: list[str], channel_id: str, default_timezone: str = DEFAULT_TIMEZONE) -> Schedule:
    """The subscribe arguments, in any order, into a ``Schedule`` (usage errors in words)."""
    parser = Parser(prog="/crm digest subscribe", add_help=False)
    parser.add_argument("words", nargs="*")
    parser.add_argument("--segment", nargs="+")
    parser.add_argument("--quiet", choices=["short", "skip"], default="short")
    parser.add_argument("--allow-shared", action="store_true")
    parser.add_argument("--notify")
    args = parser.parse_args(tokens)
    schedule = Schedule(channel_id=channel_id, timezone=default_timezone, quiet=args.quiet,
                        allow_shared=args.allow_shared,
                        notify=person(args.notify, "--notify") if args.notify else None,
                        segment=_segment(" ".join(args.segment) if args.segment else None))
    for word in args.words:
        lower = word.lower()
        if match := CHANNEL.match(word):
            schedule.channel_id = match.group(1) or match.group(2)
        elif lower in ("weekly", "daily"):
            schedule.cadence = lower
        elif lower in DAY_NAMES:
            schedule.weekday = DAY_NAMES[lower]
        elif match := TIME.match(lower):
            schedule.hour, schedule.minute = int(match.group(1)), int(match.group(2))
        elif "/" in word or word.upper() in ("UTC", "GMT"):
            schedule.timezone = str(zone(word).key)
        elif word.startswith("#"):
            raise UsageError(f"mention the channel so Slack links it (type `#` and pick it from the list), "
                             f"not {word[:40]!r}")
        else:
            raise UsageError(f"did not understand {word[:40]!r}\nUsage: {USAGE}")
    if not schedule.channel_id:
        raise UsageError("say which channel: `/crm digest subscribe #channel`")
    return schedule


def _tokens(text: str) -> tuple[str, list[str]]:
    parts = words(text)
    return (parts[0].lower(), parts[1:]) if parts else ("list", [])


def check_at_terminal(request: Request, context: Context) -> None:
    """What ``check`` finds, and, for a subscription, that someone can be told of failures: raises
    ``UsageError`` so the command line can exit 2 before anything is stored."""
    check(request.text)
    action, rest = _tokens(request.text)
    if action == "subscribe":
        who_to_tell(request, context, parse_schedule(rest, request.channel_id or "C0CHECK00",
                                                      context.default_timezone))


def check(text: str) -> None:
    """Usage errors before any store access (answered in the acknowledgement)."""
    action, rest = _tokens(text)
    if action == "subscribe":
        parse_schedule(rest, "C0CHECK00")
    elif action not in ("list", "unsubscribe", "preview"):
        raise UsageError(f"unknown digest command {action[:30]!r}\nUsage: {USAGE}")


def run(request: Request, context: Context) -> Message:
    """Subscribe, list, unsubscribe or preview, as the first word says (``list`` by default)."""
    action, rest = _tokens(request.text)
    if action == "subscribe":
        return subscribe(request, context, parse_schedule(rest, request.channel_id, context.default_timezone))
    if action == "unsubscribe":
        channel = parse_schedule(rest, request.channel_id).channel_id
        with context.session_factory() as session:
            stopped = digests.unsubscribe(session, channel, context.now())
        text = (f"Stopped {stopped} digest subscription{'s' if stopped != 1 else ''} of <#{channel}>."
                if stopped else f"<#{channel}> has no digest subscription.")
        return Message(text=text, blocks=[section(text)], response_type="in_channel" if stopped else "ephemeral")
    if action == "preview":
        return preview(request, rest, context)
    check(request.text)
    return list_subscriptions(context, None if rest[:1] == ["all"] else request.channel_id)


def who_to_tell(request: Request, context: Context, schedule: Schedule) -> str:
    """``--notify``, else the person subscribing; at the terminal (no Slack member) the first admin."""
    if schedule.notify:
        return schedule.notify
    if MEMBER_ID.match(request.user_id):
        return request.user_id
    if context.first_admin:
        return context.first_admin
    raise UsageError("say who should hear if this digest cannot be posted: add `--notify @person` "
                     "(or set CRM_ADMINS)")


def subscribe(request: Request, context: Context, schedule: Schedule) -> Message:
    """Create or update the subscription and say, in words, when the first digest comes."""
    now = context.now()
    with context.session_factory() as session:
        _check_shared(session, request, context, schedule)
        sub = digests.subscribe(session, channel_id=schedule.channel_id, cadence=schedule.cadence,
                                weekday=schedule.weekday, hour=schedule.hour, minute=schedule.minute,
                                timezone=schedule.timezone, segment=schedule.segment, quiet=schedule.quiet,
                                allow_shared=schedule.allow_shared, user_id=request.user_id, now=now,
                                notify_user=who_to_tell(request, context, schedule))
        first = next_fire(sub, now.replace(tzinfo=UTC))
        when = describe(sub)
    about = f" about {schedule.segment}" if schedule.segment else ""
    quiet = "skipped" if schedule.quiet == "skip" else "kept short"
    text = (f"<#{schedule.channel_id}> will get the {schedule.cadence} digest{about} {when.split(' ', 1)[1]}; "
            f"the first on {first.astimezone(zone(schedule.timezone)):%a %d %b %Y %H:%M %Z}. Quiet periods are "
            f"{quiet}. `/crm digest preview` shows one now; `/crm digest unsubscribe` stops it.")
    return Message(text=text, blocks=[section(text)], response_type="in_channel")


def _check_shared(session: Session, request: Request, context: Context, schedule: Schedule) -> None:
    """Digests carry the business's figures: not into a channel shared with another organisation
    unless an admin says so (``--allow-shared``, audited)."""
    kind = context.channel_kind(schedule.channel_id) if context.channel_kind else None
    if schedule.allow_shared:
        policy.require_admin(context.viewer(session, request), context.admins, "allowing digests in a shared channel")
        access.record(session, at=context.now(), user_id=request.user_id, channel_id=schedule.channel_id,
                      action="digest", what="allowed in a shared channel", detail={"channel_type": kind})
    elif kind == "shared":
        raise UserFacingError(f"<#{schedule.channel_id}> is shared with another organisation (Slack Connect), so the "
                              f"digest, which carries your business's figures, is not posted there. An admin can "
                              f"allow it: `/crm digest subscribe <#{schedule.channel_id}> --allow-shared` "
                              f"({policy.admins_phrase(context.admins)}).")


def _delivery_state(delivery: DigestDelivery, timezone: str) -> str:
    """A delivery's state in words, with when it is tried again if it is not done."""
    local = zone(timezone)
    again = delivery.lease_until.replace(tzinfo=UTC).astimezone(local)
    if delivery.status == "failed":
        return f"*failed* ({delivery.detail}); tried again from {again:%a %H:%M} while the period lasts"
    if delivery.status == "claimed" and delivery.detail:
        return f"being retried after {delivery.detail} (next try from {again:%a %H:%M})"
    if delivery.status == "claimed":
        return "being posted"
    if delivery.status == "posted" and delivery.detail:
        return delivery.detail  # posted, with the reason its chart has not followed yet
    return delivery.status


def list_subscriptions(context: Context, channel_id: str | None) -> Message:
    """A channel's subscriptions (or every one), with state, last delivery and next due time."""
    now = context.now().replace(tzinfo=UTC)
    lines = []
    with context.session_factory() as session:
        for sub in digests.subscriptions(session, channel_id):
            last = next(iter(digests.deliveries(session, sub.id, limit=1)), None)
            done = f"; last: {last.period_key} {_delivery_state(last, sub.timezone)}" if last else ""
            about = f" about {sub.segment}" if sub.segment else ""
            failing = sub.status == "failing" and not (last is not None and last.status == "failed")
            state = f" *failing*: {sub.failure}" if failing else ""
            upcoming = next_fire(sub, now)
            lines.append(f"• <#{sub.channel_id}>{about}: {describe(sub)}{done}; next "
                         f"{upcoming.astimezone(zone(sub.timezone)):%a %d %b %H:%M}{state}")
    where = "any channel" if channel_id is None else f"<#{channel_id}>"
    text = "\n".join(lines) if lines else f"No digest subscriptions in {where}: `/crm digest subscribe` starts one."
    return Message(text=text, blocks=[section(text), context_block("`/crm digest list all` lists every channel's.")])


def preview(request: Request, tokens: list[str], context: Context) -> Message:
    """The digest as it would be posted now, to the asker only (the chart comes with the real one),
    naming customers only if the asker's role may see them."""
    schedule = parse_schedule(tokens, "C0PREVIEW")
    with context.session_factory() as session:
        me = context.viewer(session, request)
        message = digest_message(build_digest(session, schedule.cadence, schedule.segment, now=context.now()),
                                 disclose_people=policy.list_level(me) != policy.AGGREGATES,
                                 min_group=policy.group_floor(me, context.min_group))
    message.blocks.append(context_block("Preview, only you can see it; the posted digest adds a trend chart."))
    message.response_type = "ephemeral"
    return message
