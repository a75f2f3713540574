"""``/crm ask QUESTION``, mentions and direct messages: a question in words, answered.

The question is read once (``understanding.reader``); a reading of a command runs that command's
runner, a question about numbers is measured (``views.metrics``) under the same privacy as the
commands: a ranking of customers is a list of customers (refused, masked or full by role and
place, each one on record), and groups too small to describe in a channel are left out.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta

from sqlalchemy.exc import SQLAlchemyError

from assistant.commands.base import Context, Request, UsageError
from assistant.commands.understanding import language_model, writes
from assistant.commands.understanding.reader import (
    Reading,
    Understanding,
    continues,
    explains_the_last_answer,
    read,
    refine,
)
from assistant.commands.understanding.vocabulary import VOCABULARIES
from assistant.errors import UserFacingError
from assistant.render.blocks import Message, actions, button, section
from assistant.render.metrics import answer_message, headline
from assistant.views import policy
from assistant.views.metrics import (
    MetricAnswer,
    MetricQuestion,
    answer,
    customers_behind,
    for_asker,
    from_record,
    to_record,
)
from db import conversations
from db.semantic import METRICS

ASK_ACTION = "ask.reading"
"""Buttons that offer a reading when the question was unclear: their value is ``command|text``."""
MAX_QUESTION = 500


def check(text: str) -> str:
    """A question must say something, and not a book."""
    question = text.strip()
    if not question:
        raise UsageError("ask me something, e.g. `/crm ask revenue last month by country` or "
                         "`/crm ask who are my best customers`")
    if len(question) > MAX_QUESTION:
        raise UsageError(f"that is {len(question):,} characters; ask in a sentence or two (at most {MAX_QUESTION})")
    return question


def conversation_key(request: Request) -> str:
    """Where a conversation lives: a direct message, a thread, or one person's commands in a channel."""
    if request.place == "im" or request.channel_id.startswith("D"):
        return f"im:{request.channel_id}"
    if request.thread:
        return f"{request.channel_id}:{request.thread}"
    return f"{request.channel_id}:user:{request.user_id}"


def previous_question(context: Context, request: Request) -> MetricQuestion | None:
    """The question about numbers last answered here, if the conversation is still going."""
    with context.session_factory() as session:
        record = conversations.recall(session, conversation_key(request), context.now() - context.conversation_idle)
    return from_record(record) if record else None


def understand(context: Context, text: str, request: Request | None = None) -> Understanding:
    """Read ``text`` against the store's vocabulary; in a conversation, a follow-up ("and in France?",
    "why?") refines or explains the question answered last there."""
    asked_to_write = writes.reading(text)
    if asked_to_write is not None:  # before the reader: a note's words are not corrected
        return asked_to_write
    with context.session_factory() as session:
        vocabulary = VOCABULARIES.of(session)
    fresh = read(text, vocabulary)
    previous = previous_question(context, request) if request is not None else None
    if previous is not None:
        if explains_the_last_answer(text):
            return Understanding(Reading("/crm ask", text, "Why"), question=previous, intent="why")
        # A question of its own ("top 5 customers") starts afresh; "and in France?" or words that
        # alone read as little ("only champions") continue the last one.
        if continues(text) or fresh.intent in ("ask", "segments", "help"):
            refined = refine(previous, text, vocabulary)
            if refined is not None:
                return Understanding(Reading("/crm ask", text, "Answer: " + METRICS[refined.metric].label),
                                     question=refined, intent="follow-up")
    if fresh.unsure and context.language_model is not None:
        model_reading = context.language_model.reading(text)
        resolved = language_model.understanding(model_reading, text, vocabulary) if model_reading else None
        if resolved is not None:
            return resolved
    return fresh


def understand_or_defer(context: Context, text: str, request: Request | None = None) -> Understanding:
    """``understand``, or, when the store cannot be read, a reading of ``/crm ask`` itself: its
    runner meets the same error inside ``answer``, which says so in words."""
    try:
        return understand(context, text, request)
    except SQLAlchemyError:
        return Understanding(Reading("/crm ask", text, "Answer"))


def clarify(understood: Understanding) -> Message:
    """Not sure: the likeliest readings as buttons."""
    labels = " or ".join(f"*{r.label}*" for r in understood.alternatives)
    return Message(text="Did you mean " + " or ".join(r.label for r in understood.alternatives) + "?",
                   blocks=[section(f"I am not sure what you mean: {labels}?"),
                           actions(*[button(r.label, f"{ASK_ACTION}.{i}", f"{r.command}|{r.text}")
                                     for i, r in enumerate(understood.alternatives)])])


def no_such_metric() -> UserFacingError:
    """A question for something the store does not hold ("profit"): say what it can answer."""
    names = ", ".join(m.label for m in METRICS.values())
    return UserFacingError(f"I cannot measure that from orders; the numbers I know are: {names}. For example "
                           "`/crm ask revenue last month by country`.")


@dataclass
class Response:
    """What a question was read as, what the bot says, and (for numbers) what was measured."""

    understood: Understanding
    message: Message
    measured: MetricAnswer | None = None


def respond(request: Request, context: Context) -> Response:
    """Read the question and answer it (``run`` for Slack; ``crm-bot ask --json`` keeps the rest)."""
    understood = understand(context, check(request.text), request)
    if understood.reading is None:
        return Response(understood, clarify(understood))
    if understood.reading.command != "/crm ask":
        return Response(understood, run_reading(understood.reading, request, context))
    if understood.question is None:
        raise no_such_metric()
    if understood.intent == "why":
        return Response(understood, why(understood.question, request, context))
    result, message = answer_question(understood.question, request, context)
    return Response(understood, message, result)


def run(request: Request, context: Context) -> Message:
    """Answer a question in words: run the command it reads as, or measure the numbers it asks for."""
    return respond(request, context).message


def why(question: MetricQuestion, request: Request, context: Context) -> Message:
    """How the last answer was worked out: the reading, what was counted, the facts it came from."""
    result, _ = measured(question, request, context)
    metric = result.metric
    source = {"lines": "order lines", "firsts": "each customer's first sale order", "customers": "the customers",
              "snapshot": "the latest analytics run"}[metric.source]
    lines = [f"*{headline(result)}*", f"Counted: {metric.definition}.", f"From {source}" + (
        f", {result.period.words()}" if result.period and metric.source in ("lines", "firsts") else "") + "."]
    if question.filters.said():
        lines.append("Only " + ", ".join(question.filters.said()) + ".")
    if question.compare and result.compared_with is not None:
        lines.append(f"Compared with {result.compared_with.words()}.")
    return Message(text=" ".join(lines), blocks=[section("\n".join(lines))])


def run_reading(reading: Reading, request: Request, context: Context) -> Message:
    """The command a question reads as, run as if typed (its usage check included)."""
    from assistant.commands.registry import route  # the registry lists this module's runner

    spec, rest = route(reading.command.split(" ", maxsplit=1)[0],
                       (reading.command.partition(" ")[2] + " " + reading.text).strip())
    if spec.check is not None:
        spec.check(rest)
    return spec.run(replace(request, text=rest), context)


def measured(question: MetricQuestion, request: Request, context: Context) -> tuple[MetricAnswer, int]:
    """The answer to ``question`` for this asker here, and how many small groups were left out."""
    question = for_asker(question, request.user_id)
    with context.session_factory() as session:
        me = context.viewer(session, request)
        if question.group_by == "customer":
            policy.require_individuals(me, policy.list_level(me), sorted(context.admins))
        result = answer(session, question)
        floor = policy.group_floor(me, context.min_group)
        hidden = 0
        if floor > 1 and question.group_by != "customer":
            total, per_group = customers_behind(session, result)
            narrowed = any((question.filters.country, question.filters.segment, question.filters.product,
                            question.filters.owner, question.filters.cluster is not None))
            if narrowed and total < floor:
                raise UserFacingError(f"that describes fewer than {floor} customers: small groups are not described "
                                      "in a channel (they could identify people); ask me in a direct message")
            if not result.rows.empty and question.group_by not in ("month", "week"):
                small = {k for k, n in per_group.items() if n < floor}
                hidden = int(result.rows["key"].isin(small).sum())
                result.rows = result.rows[~result.rows["key"].isin(small)].reset_index(drop=True)
    if result.lists_customers:
        level = policy.list_level(me)
        for ref in result.rows["key"]:
            request.disclosures.append({"what": "metric ranking", "customer_ref": str(ref),
                                        "detail": {"fields": ["id", "name", question.metric], "level": level,
                                                   "role": me.role, "place": me.place}})
    return result, hidden


def answer_question(question: MetricQuestion, request: Request, context: Context) -> tuple[MetricAnswer, Message]:
    """A question about numbers, answered in words (with a table when it has several rows), and
    kept as what this conversation is about, for its follow-ups."""
    result, hidden = measured(question, request, context)
    with context.session_factory() as session:
        now = context.now()
        conversations.forget_before(session, now - max(context.conversation_idle, timedelta(days=1)))
        conversations.remember(session, conversation_key(request), request.user_id, to_record(question), now)
    return result, answer_message(result, hidden)
