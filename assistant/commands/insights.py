"""/segments and the /crm subcommands that read the latest snapshot: rules, atrisk, model-health."""

from __future__ import annotations

import shlex

from analytics.rfm import SEGMENTS
from assistant.commands.base import Context, Parser, Request, UsageError
from assistant.insights import UserFacingError, rules_view, segments_view
from assistant.predictions import model_health as model_health_view
from assistant.render import insights as render
from assistant.render.blocks import Message, section
from assistant.render.blocks import context as context_block
from db import predictions, products, snapshots


def _words(text: str) -> list[str]:
    try:
        return shlex.split(text.replace("\u201c", '"').replace("\u201d", '"'))
    except ValueError as exc:
        raise UsageError(f"could not read that ({exc}); close any quote you opened") from exc


def segments(request: Request, context: Context) -> Message:
    """Segment overview, or one segment's profile and most valuable members."""
    name = request.text.strip() or None
    with context.session_factory() as session:
        return render.segments(segments_view(session, name))


def _paged(text: str) -> tuple[str, int]:
    """``what|offset`` (a "More" button's value) -> (what, offset); typed text -> (text, 0)."""
    what, bar, offset = text.rpartition("|")
    return (what, int(offset)) if bar and offset.isdigit() and len(offset) < 6 else (text, 0)


def rules(request: Request, context: Context) -> Message:
    """The strongest basket rules, or those about one product (a code, or words of its name)."""
    wanted, offset = _paged(request.text)
    text = " ".join(_words(wanted))
    limit = offset + render.LIST_PAGE + 1  # one more than shown: is there a next page?
    with context.session_factory() as session:
        if not text:
            return render.rules(rules_view(session, None, limit=limit), offset)
        product = products.by_sku(session, text)
        if product is None:
            found = products.by_description(session, text)
            if not found:
                raise UsageError(f"no product with code or name {text[:60]!r}; e.g. `/crm rules 85123A` or "
                                 "`/crm rules white hanging heart`")
            product = found[0]
        return render.rules(rules_view(session, product.sku, limit=limit), offset)


def at_risk_args(text: str) -> tuple[str | None, int]:
    """``[SEGMENT] [--top N]`` -> (segment or None, N); usage errors in words."""
    parser = Parser(prog="/crm atrisk", add_help=False)
    parser.add_argument("segment", nargs="*")
    parser.add_argument("--top", type=int, default=10)
    args = parser.parse_args(_words(text))
    if not 1 <= args.top <= 50:
        raise UsageError("--top takes a number from 1 to 50")
    segment = " ".join(args.segment) or None
    if segment is not None:
        wanted = {s.lower(): s for s in SEGMENTS}
        key = segment.lower().replace("\u2019", "'")
        if key not in wanted:
            raise UsageError(f"no segment called {segment[:60]!r}; the segments are: {', '.join(SEGMENTS)}")
        segment = wanted[key]
    return segment, args.top


def at_risk(request: Request, context: Context) -> Message:
    """Highest value x churn risk first, optionally within one segment."""
    segment, top = at_risk_args(request.text)
    return _at_risk(context, segment, top)


def home(request: Request, context: Context) -> Message:
    """The App Home tab: the accounts the user owns with the most value at stake."""
    try:
        message = _at_risk(context, None, 10, owner=request.user_id)
    except UserFacingError as exc:
        message = Message(text=str(exc), blocks=[])
    intro = ("*Your accounts at risk*" if message.blocks else
             f"*Your accounts*\n{message.text}")
    if "No customers at risk" in message.text:
        intro = ("*Your accounts*\nNo customers are assigned to you. Account owners come from the `owner` column "
                 "of `crm-bot import customers` (your Slack member id or e-mail).")
        message.blocks = []
    return Message(text=message.text, blocks=[section(intro), *message.blocks[1:],
                                              context_block("Try `/customer ID`, `/crm atrisk`, `/crm help`.")])


def _at_risk(context: Context, segment: str | None, top: int, owner: str | None = None) -> Message:
    with context.session_factory() as session:
        run = snapshots.latest_run(session)
        if run is None:
            raise UserFacingError("no analytics yet: run `crm-bot refresh` (or `crm-bot demo`) first")
        lifetime = run.results.get("lifetime", {})
        if "refused" in lifetime:
            raise UserFacingError(f"no churn or value estimates this run: {lifetime['refused']}")
        use_p_alive = bool(lifetime.get("dropout_identified", True))
        horizon = run.params.get("horizon_days", 90)
        model = predictions.latest_model(session, f"purchase_next_{horizon}_days", run.id)
        frame = predictions.at_risk(session, run.id, model.id if model else None, use_p_alive, segment, top, owner)
        meaning = ("chance they have stopped buying" if use_p_alive or model is None
                   else f"chance of no order in the next {horizon} days")
        return render.at_risk(frame, segment, meaning)


def no_arguments(text: str) -> None:
    """For commands that take nothing."""
    if text.strip():
        raise UsageError("this command takes no arguments")


def words(text: str) -> list[str]:
    """Checks quotes are closed."""
    return _words(text)


def model_health(request: Request, context: Context) -> Message:
    """Each model: validation against baselines, calibration, drift, warnings."""
    no_arguments(request.text)
    with context.session_factory() as session:
        return render.model_health(model_health_view(session))
