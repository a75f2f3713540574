"""``/crm ask QUESTION``, mentions and direct messages: a question in words, answered.

The question is read once (``understanding.reader``); a reading of a command runs that command's
runner, a question about numbers is measured (``views.metrics``) under the same privacy as the
commands: a ranking of customers is a list of customers (refused, masked or full by role and
place, each one on record), and groups too small to describe in a channel are left out.
"""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy.exc import SQLAlchemyError

from assistant.commands.base import Context, Request, UsageError
from assistant.commands.understanding.reader import Reading, Understanding, read
from assistant.commands.understanding.vocabulary import VOCABULARIES
from assistant.errors import UserFacingError
from assistant.render.blocks import Message, actions, button, section
from assistant.render.metrics import answer_message
from assistant.views import policy
from assistant.views.metrics import MetricAnswer, MetricQuestion, answer, customers_behind, for_asker
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


def understand(context: Context, text: str) -> Understanding:
    """Read ``text`` against the store's vocabulary."""
    with context.session_factory() as session:
        vocabulary = VOCABULARIES.of(session)
    return read(text, vocabulary)


def understand_or_defer(context: Context, text: str) -> Understanding:
    """``understand``, or, when the store cannot be read, a reading of ``/crm ask`` itself: its
    runner meets the same error inside ``answer``, which says so in words."""
    try:
        return understand(context, text)
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


def run(request: Request, context: Context) -> Message:
    """Answer a question in words: run the command it reads as, or measure the numbers it asks for."""
    understood = understand(context, check(request.text))
    if understood.reading is None:
        return clarify(understood)
    if understood.reading.command != "/crm ask":
        return run_reading(understood.reading, request, context)
    if understood.question is None:
        raise no_such_metric()
    return answer_question(understood.question, request, context)


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
            total, per_group = customers_behind(session, question)
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


def answer_question(question: MetricQuestion, request: Request, context: Context) -> Message:
    """A question about numbers, answered in words (with a table when it has several rows)."""
    result, hidden = measured(question, request, context)
    return answer_message(result, hidden)
