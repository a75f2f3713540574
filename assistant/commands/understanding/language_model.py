"""An optional language model for the long tail of phrasings the offline reader cannot place.

Off unless ``CRM_LLM_URL`` names an OpenAI-compatible chat-completions endpoint (a local llama.cpp
or Ollama server, or a hosted one).  It is asked only when the reader is unsure, and it is sent
only the question's text and the catalogue of what crm-bot can do: command intents, metric and
dimension names with their definitions, segment names.  Never a customer, a product, a country
list or a number from the store.  It must answer with a ``ModelReading`` (a JSON schema in
``response_format``; a tool call is accepted too), which is validated, then resolved against the
store's vocabulary exactly as the reader's own entities are: a customer must be written in the
question, a country must be one the store has, a period is re-read from words by
``periods.find_period`` (the model never computes dates).  A timeout, an HTTP error or any reply
that fails these checks gives ``None``, and the bot asks back as it would without a model.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import urllib.error
import urllib.request
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from analytics.rfm import SEGMENTS
from assistant.commands.understanding.periods import find_period
from assistant.commands.understanding.reader import (
    HEALTH,
    HELP,
    MENTION,
    Reading,
    Understanding,
    atrisk_reading,
    card_reading,
    digest_reading,
    metric_reading,
    recommend_reading,
    rules_reading,
    segments_reading,
)
from assistant.commands.understanding.vocabulary import Vocabulary
from assistant.ops.metrics import LANGUAGE_MODEL
from assistant.views.metrics import ASKER, MetricQuestion
from db.semantic import DIMENSIONS, METRICS, Filters

log = logging.getLogger(__name__)

INTENTS = {
    "card": "one customer's card (profile, orders, value, segment, churn risk, next order)",
    "recommend": "products to offer one customer",
    "segments": "the customer segments, or one segment's customers",
    "atrisk": "the accounts at risk of churning (optionally of a segment, in a country, top N)",
    "rules": "what is bought together with a product (basket rules)",
    "health": "how well the prediction models are doing",
    "digest": "a preview of the weekly (or daily) insight digest",
    "help": "what the bot can do",
    "metric": "a question about numbers: one metric, over a period, filtered, grouped, ranked or compared",
    "unclear": "none of these, or too unclear to tell",
}
"""What the model may read a question as (one per command, plus metric questions and "unclear")."""
COMPARISONS = ("previous", "year_ago")


def _choice(names: list[str], description: str) -> Any:
    """A field that is one of ``names`` or null, said so in the JSON schema."""
    return Field(description=description, json_schema_extra={"enum": [*names, None]})


class ModelReading(BaseModel):
    """The structured reading the language model must give (its JSON schema is sent with each request)."""

    model_config = ConfigDict(extra="forbid")

    intent: str = Field(description="what the question asks for", json_schema_extra={"enum": list(INTENTS)})
    customer: str | None = Field(description="a customer id or e-mail exactly as written in the question, or null")
    product: str | None = Field(description="a product code, or the words naming a product, as written, or null")
    segment: str | None = _choice(list(SEGMENTS), "an RFM segment the question names, or null")
    country: str | None = Field(description="a country the question names, in English, or null")
    metric: str | None = _choice(list(METRICS), "for intent metric: the metric asked for, else null")
    group_by: str | None = _choice(list(DIMENSIONS), "for intent metric: what to break the number down by, "
                                                     "or null")
    period: str | None = Field(description="the period in the question's own words (e.g. 'last month', "
                                           "'in November', 'the last 30 days', 'in Q3 2011'), or null")
    top: int | None = Field(ge=1, le=100, description="how many to list for 'top N' / 'bottom N', or null")
    bottom: bool = Field(description="true when the question asks for the lowest ('bottom 5', 'worst')")
    compare: str | None = _choice(list(COMPARISONS), "for intent metric: compare with the period before "
                                                     "(previous) or the same period a year earlier "
                                                     "(year_ago), or null")
    growth: bool = Field(description="for intent metric: rank the groups by how much the metric changed "
                                     "('which country grew most')")
    mine: bool = Field(description="true when the asker means their own accounts ('my customers')")
    daily: bool = Field(description="for intent digest: the daily digest rather than the weekly one")

    @model_validator(mode="after")
    def _names_known(self) -> ModelReading:
        for name, allowed in (("intent", INTENTS), ("segment", SEGMENTS), ("metric", METRICS),
                              ("group_by", DIMENSIONS), ("compare", COMPARISONS)):
            value = getattr(self, name)
            if value is not None and value not in allowed:
                raise ValueError(f"{name} {value!r} is not one of {sorted(allowed)}")
        if self.intent == "metric" and self.metric is None:
            raise ValueError("intent metric needs a metric")
        return self


def catalogue() -> str:
    """What the model is told crm-bot can do: names and definitions only, nothing from the store."""
    lines = ["Intents:"] + [f"- {name}: {what}" for name, what in INTENTS.items()]
    lines += ["Metrics:"] + [f"- {m.name}: {m.definition}" for m in METRICS.values()]
    lines += ["Dimensions:"] + [f"- {d.name}: {d.definition}" for d in DIMENSIONS.values()]
    lines += ["Segments: " + ", ".join(SEGMENTS)]
    return "\n".join(lines)


INSTRUCTIONS = (
    "You read questions that sales reps and marketers type to a CRM assistant in Slack and say what "
    "each asks for, as JSON matching the given schema. Use only the names listed below. Copy customer "
    "ids, product words, countries and periods as the question writes them; never compute a date and "
    "never invent a value the question does not say: use null. If the question fits none of the "
    "intents, answer intent \"unclear\".\n\n")


@dataclass(frozen=True)
class LanguageModelSettings:
    """Where the model is and how long to wait for it (``CRM_LLM_URL``, ``CRM_LLM_KEY``...)."""

    url: str
    model: str
    key: str | None = None
    timeout: float = 8.0


class LanguageModel:
    """A client of one OpenAI-compatible chat-completions endpoint, reading questions into
    ``ModelReading``; replies are remembered per question text (the same question is not asked twice)."""

    MEMORY = 512

    def __init__(self, settings: LanguageModelSettings) -> None:
        self.settings = settings
        url = settings.url.rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"the language model's URL must be http:// or https://, not {url!r}")
        self.endpoint = url if url.endswith("/chat/completions") else url + "/chat/completions"
        self._remembered: OrderedDict[str, ModelReading | None] = OrderedDict()
        self._lock = threading.Lock()

    def request_body(self, question: str) -> dict[str, Any]:
        """What is sent for ``question``: instructions, the catalogue, the question; nothing else."""
        return {
            "model": self.settings.model,
            "temperature": 0,
            "messages": [{"role": "system", "content": INSTRUCTIONS + catalogue()},
                         {"role": "user", "content": question}],
            "response_format": {"type": "json_schema",
                                "json_schema": {"name": "reading", "schema": ModelReading.model_json_schema()}},
        }

    def reading(self, question: str) -> ModelReading | None:
        """The model's reading of ``question``, or ``None`` when it did not answer in time or in shape."""
        text = " ".join(MENTION.sub(" ", question).split())
        with self._lock:
            if text in self._remembered:
                self._remembered.move_to_end(text)
                return self._remembered[text]
        result = self._ask(text)
        with self._lock:
            self._remembered[text] = result
            while len(self._remembered) > self.MEMORY:
                self._remembered.popitem(last=False)
        return result

    def probe(self) -> tuple[bool, str]:
        """Ask one harmless question, for ``crm-bot doctor``: whether the model answers with a
        reading, and how fast."""
        started = time.monotonic()
        reading = self._ask("what can you do?")
        took = (time.monotonic() - started) * 1000
        if reading is None:
            return False, f"{self.endpoint} gave no reading of a test question (see the warning above)"
        return True, f"{self.endpoint} (model {self.settings.model}) read a test question in {took:,.0f} ms"

    def _ask(self, text: str) -> ModelReading | None:
        headers = {"Content-Type": "application/json"}
        if self.settings.key:
            headers["Authorization"] = f"Bearer {self.settings.key}"
        # the endpoint is http(s), checked in __init__
        request = urllib.request.Request(self.endpoint, data=json.dumps(self.request_body(text)).encode(),  # noqa: S310
                                         headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.settings.timeout) as response:  # noqa: S310
                reply = json.loads(response.read())
        except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
            # URLError covers refused connections and HTTP errors; a read that times out is a TimeoutError
            LANGUAGE_MODEL.labels(outcome="unreachable").inc()
            log.warning("language model at %s did not answer: %s", self.endpoint, exc)
            return None
        try:
            reading = ModelReading.model_validate(_arguments(reply))
        except (ValidationError, ValueError, KeyError, IndexError, TypeError) as exc:
            LANGUAGE_MODEL.labels(outcome="bad reply").inc()
            log.warning("language model gave a reply that is not a reading: %s", str(exc).splitlines()[0])
            return None
        LANGUAGE_MODEL.labels(outcome="read").inc()
        return reading


FENCE = re.compile(r"^\s*```(?:json)?\s*|\s*```\s*$")


def _arguments(reply: dict[str, Any]) -> Any:
    """The JSON object a chat completion carries: a tool call's arguments, else the message content."""
    choice = reply["choices"][0]
    if choice.get("finish_reason") == "length":
        raise ValueError("the reply was cut off (finish_reason length)")
    message = choice["message"]
    calls = message.get("tool_calls") or []
    raw = calls[0]["function"]["arguments"] if calls else message.get("content")
    if isinstance(raw, dict):
        return raw
    if not isinstance(raw, str) or not raw.strip():
        raise ValueError("the reply has no content")
    return json.loads(FENCE.sub("", raw))


def understanding(reading: ModelReading, question: str, vocabulary: Vocabulary) -> Understanding | None:
    """The model's reading resolved against the store as the reader resolves its own entities, or
    ``None`` where it names something the question or the store does not have."""
    lower = question.lower()
    customer = reading.customer.strip().lstrip("#") if reading.customer else None
    if customer is not None and customer.lower() not in lower:
        return None  # a customer the question does not name: made up
    country = None
    if reading.country:
        country = vocabulary.countries.get(reading.country.strip().lower())
        if country is None:
            return None  # not a country this store sells to
    period = None
    if reading.period:
        if vocabulary.latest is None:
            return None
        found = find_period(reading.period.lower(), vocabulary.latest)
        if found is None:
            return None  # words that are no period the reader knows: never a guessed date range
        period = found.period
    product = None
    product_words: list[str] = []
    if reading.product:
        product = vocabulary.skus.get(reading.product.strip().lower())
        product_words = re.findall(r"[a-z0-9]+", reading.product.lower())
    segment, top = reading.segment, reading.top

    def done(found: Reading, intent: str, question_asked: MetricQuestion | None = None) -> Understanding:
        return Understanding(found, question=question_asked, intent=intent, corrected=question,
                             read_by="language model")

    match reading.intent:
        case "card" if customer:
            return done(card_reading(customer), "customer")
        case "recommend" if customer:
            return done(recommend_reading(customer), "recommend")
        case "segments":
            return done(segments_reading(segment, country), "segments")
        case "atrisk":
            return done(atrisk_reading(segment, country, top), "atrisk")
        case "rules":
            return done(rules_reading(product, product_words, vocabulary), "rules")
        case "health":
            return done(HEALTH, "health")
        case "digest":
            return done(digest_reading(reading.daily, segment), "digest")
        case "help":
            return done(HELP, "help")
        case "metric" if reading.metric:
            if reading.compare and period is None and vocabulary.latest is not None:
                recent = find_period("the last 30 days", vocabulary.latest)  # as the reader compares
                period = recent.period if recent else None
            if product is None and product_words:
                named = vocabulary.products_named(product_words, 2)
                if len(named) != 1:
                    return None  # the words name no product, or several: not a number to guess at
                product = named[0][0]
            asked = MetricQuestion(metric=reading.metric, period=period,
                                   filters=Filters(country=country, segment=segment, product=product,
                                                   owner=ASKER if reading.mine else None),
                                   group_by=reading.group_by,
                                   top=top if reading.group_by not in ("month", "week") else None,
                                   bottom=reading.bottom,
                                   compare=reading.compare, growth=reading.growth and reading.group_by is not None)
            return done(metric_reading(question, asked), "metric", asked)
    return None
