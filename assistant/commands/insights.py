"""/segments and the /crm subcommands that read the latest snapshot: rules, atrisk, model-health."""

from __future__ import annotations

import difflib

from sqlalchemy.orm import Session

from analytics.rfm import SEGMENTS
from assistant.commands.base import Context, Parser, Request, UsageError
from assistant.commands.follow_ups import shown_in_full
from assistant.commands.parsing import no_arguments, words
from assistant.errors import UserFacingError
from assistant.render import follow_ups as render_follow_ups
from assistant.render import insights as render
from assistant.render.blocks import Block, Message, section
from assistant.render.blocks import context as context_block
from assistant.views import examples, policy
from assistant.views.insights import RulesView, find_products, rules_view, segments_view
from assistant.views.predictions import model_health as model_health_view
from db import customers, follow_ups, predictions, snapshots


def _segment_name(words: list[str], prog: str) -> str | None:
    """The segment the words name (any case, typographic apostrophes), or ``None`` for no words."""
    segment = " ".join(words) or None
    if segment is None:
        return None
    wanted = {s.lower(): s for s in SEGMENTS}
    key = segment.lower().replace("\u2019", "'")
    if key not in wanted:
        raise UsageError(f"no segment called {segment[:60]!r}; the segments are: {', '.join(SEGMENTS)}\n"
                         f"Usage: {COMMAND_USAGE[prog]}")
    return wanted[key]


COMMAND_USAGE = {"/segments": "/segments [NAME] [--country COUNTRY]",
                 "/crm atrisk": "/crm atrisk [SEGMENT] [--top N] [--country COUNTRY]"}


def segments_args(text: str) -> tuple[str | None, str | None]:
    """``[NAME] [--country COUNTRY]`` -> (segment or None, country as typed or None)."""
    parser = Parser(prog="/segments", add_help=False)
    parser.add_argument("segment", nargs="*")
    parser.add_argument("--country", nargs="+")
    args = parser.parse_args(words(_paged(text)[0]))
    return _segment_name(args.segment, "/segments"), " ".join(args.country) if args.country else None


def country_in_store(session: Session, typed: str | None) -> str | None:
    """The stored country a user means, or a usage error naming the close ones."""
    if typed is None:
        return None
    found = customers.country_named(session, typed)
    if found is not None:
        return found
    known = [name for name, _ in customers.countries(session)]
    close = difflib.get_close_matches(typed.title(), known, n=3, cutoff=0.6)
    hint = (f"did you mean {' or '.join(close)}?" if close else
            f"countries with the most customers: {', '.join(known[:6])}" if known else "no customer has a country")
    raise UsageError(f"no customers in {typed[:60]!r}; {hint}")


def segments(request: Request, context: Context) -> Message:
    """Segment overview, or one segment's profile and a page of its most valuable members."""
    typed, offset = _paged(request.text)
    segment, country_typed = segments_args(typed)
    with context.session_factory() as session:
        country = country_in_store(session, country_typed)
        view = segments_view(session, segment, render.LIST_PAGE + 1, offset, country)
        me = context.viewer(session, request)
        if view.members is not None and policy.list_level(me) == policy.AGGREGATES:
            view.members = None  # the profile is an aggregate; who is in it is not shown here
            view.members_hidden = True
        floor = policy.group_floor(me, context.min_group)
        if view.segment is not None:
            row = view.table[view.table["segment"] == view.segment]
            if not row.empty and int(row["customers"].iloc[0]) < floor:
                raise UserFacingError(f"{view.segment} has fewer than {floor} customers here: small groups are "
                                      "not described in a channel (they could identify people); ask me in a DM")
        elif not view.table.empty:
            view.table = policy.merge_small_groups(view.table, "customers", floor, "segment")
        return render.segments(view, more=f"{typed}|{offset + render.LIST_PAGE}")


def _paged(text: str) -> tuple[str, int]:
    """``what|offset`` (a "More" button's value: the arguments as typed and where the next page
    starts) -> (what, offset); typed text -> (text, 0)."""
    what, bar, offset = text.rpartition("|")
    return (what, int(offset)) if bar and offset.isdigit() and len(offset) < 6 else (text, 0)


def rules(request: Request, context: Context) -> Message:
    """The strongest basket rules, or those about one product (a code, or words of its name;
    several products with those words -> the person picks one)."""
    wanted, offset = _paged(request.text)
    text = " ".join(words(wanted))
    limit = offset + render.LIST_PAGE + 1  # one more than shown: is there a next page?
    with context.session_factory() as session:
        floor = policy.group_floor(context.viewer(session, request), context.min_group)
        if not text:
            return render.rules(_big_enough(rules_view(session, None, limit=limit), floor), offset)
        found = find_products(session, text)
        if not found:
            raise UsageError(f"no product with code or name {text[:60]!r}; e.g. `/crm rules {examples.PRODUCT}` or "
                             f"`/crm rules {examples.PRODUCT_WORDS}`")
        if len(found) > 1:
            return render.product_candidates(text, found)
        return render.rules(_big_enough(rules_view(session, found[0].sku, limit=limit), floor), offset)


def _big_enough(view: RulesView, floor: int) -> RulesView:
    """Rules seen in fewer than ``floor`` orders are not described where others can read them."""
    if floor <= 1:
        return view
    for table, attribute, column in ((view.rules, "sentences", "count"), (view.reverse, "reverse_sentences", "count"),
                                     (view.weaker, "weaker_sentences", "together")):
        if not table.empty:
            keep = (table[column] >= floor).tolist()
            setattr(view, attribute, [s for s, k in zip(getattr(view, attribute), keep, strict=False) if k])
    return view


def at_risk_args(text: str) -> tuple[str | None, int, str | None]:
    """``[SEGMENT] [--top N] [--country COUNTRY]`` -> (segment or None, N, country as typed or None)."""
    parser = Parser(prog="/crm atrisk", add_help=False)
    parser.add_argument("segment", nargs="*")
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument("--country", nargs="+")
    args = parser.parse_args(words(_paged(text)[0]))
    if not 1 <= args.top <= 50:
        raise UsageError("--top takes a number from 1 to 50")
    country = " ".join(args.country) if args.country else None
    return _segment_name(args.segment, "/crm atrisk"), args.top, country


def at_risk(request: Request, context: Context) -> Message:
    """Highest value x churn risk first, optionally within one segment or country, a page at a time."""
    typed, offset = _paged(request.text)
    segment, top, country = at_risk_args(typed)
    with context.session_factory() as session:
        me = context.viewer(session, request)
    policy.require_individuals(me, policy.list_level(me), sorted(context.admins))
    return _at_risk(context, segment, top, offset=offset, country_typed=country, typed=typed)


def home(request: Request, context: Context) -> Message:
    """The App Home tab: the user's open follow-ups, then the accounts they own with the most value
    at stake (if their role may see individual customers)."""
    try:
        with context.session_factory() as session:
            me = context.viewer(session, request)
            policy.require_individuals(me, policy.list_level(me), sorted(context.admins))
        message = _at_risk(context, None, 10, owner=request.user_id)
    except UserFacingError as exc:
        message = Message(text=str(exc), blocks=[])
    intro = ("*Your accounts at risk*" if message.blocks else
             f"*Your accounts*\n{message.text}")
    if "No customers at risk" in message.text:
        intro = ("*Your accounts*\nNo customers are assigned to you. Account owners come from the `owner` column "
                 "of `crm-bot import customers` (your Slack member id or e-mail).")
        message.blocks = []
    tasks = _my_follow_ups(context, request)
    return Message(text=message.text, blocks=[*tasks, section(intro), *message.blocks[1:],
                                              context_block("Try `/customer ID`, `/crm tasks`, `/crm atrisk`, "
                                                            "`/crm help`.")])


HOME_FOLLOW_UPS = 5


def _my_follow_ups(context: Context, request: Request) -> list[Block]:
    """The App Home's open follow-ups (for roles that may see individual customers)."""
    with context.session_factory() as session:
        me = context.viewer(session, request)
        if policy.list_level(me) == policy.AGGREGATES:
            return []
        total = follow_ups.open_count(session, request.user_id)
        rows = shown_in_full(me, follow_ups.open_of(session, request.user_id, HOME_FOLLOW_UPS)) if total else []
        for _, customer, _ in rows:
            request.disclosures.append({"what": "follow-ups", "customer_ref": customer.external_id,
                                        "detail": {"fields": ["id", "name", "follow-up"], "role": me.role,
                                                   "place": "home"}})
        return render_follow_ups.home_follow_ups(rows, context.now(), total)


def _at_risk(context: Context, segment: str | None, top: int, owner: str | None = None, offset: int = 0,
             country_typed: str | None = None, typed: str | None = None) -> Message:
    with context.session_factory() as session:
        country = country_in_store(session, country_typed)
        run = snapshots.latest_run(session)
        if run is None:
            raise UserFacingError("no analytics yet: run `crm-bot refresh` (or `crm-bot demo`) first")
        lifetime = run.results.get("lifetime", {})
        if "refused" in lifetime:
            raise UserFacingError(f"no churn or value estimates this run: {lifetime['refused']}")
        use_p_alive = bool(lifetime.get("dropout_identified", True))
        horizon = run.params.get("horizon_days", 90)
        model = predictions.latest_model(session, f"purchase_next_{horizon}_days", run.id)
        frame = predictions.at_risk(session, run.id, model.id if model else None, use_p_alive, segment, top + 1,
                                    owner, offset, country)
        meaning = ("chance they have stopped buying" if use_p_alive or model is None
                   else f"chance of no order in the next {horizon} days")
        more = f"{typed}|{offset + top}" if typed is not None and len(frame) > top else None
        return render.at_risk(frame.head(top), segment, meaning, offset=offset, country=country, more=more,
                              currency=run.currency)


def model_health(request: Request, context: Context) -> Message:
    """Each model: validation against baselines, calibration, drift, warnings."""
    no_arguments(request.text)
    with context.session_factory() as session:
        return render.model_health(model_health_view(session))
