"""The optional language model, against a fake OpenAI-compatible server over real HTTP.

It is asked only when the offline reader is unsure, is sent the question and the catalogue of
names (nothing from the store), and its reply is validated and resolved against the store before
anything runs; a slow, broken or made-up reply falls back to asking back.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from assistant.commands import ask
from assistant.commands.answer import answer
from assistant.commands.base import Context, Request
from assistant.commands.understanding.language_model import LanguageModel, LanguageModelSettings
from assistant.jobs.refresh.run import RefreshSummary
from assistant.ops.settings import SettingsError, load_settings
from db.models import Customer, Product
from tests.assistant.cli.test_cli import CRM_BOT, crm_bot
from tests.assistant.understanding.fake_language_model import FakeLanguageModel, completion, recorded

Refreshed = tuple[Engine, RefreshSummary, RefreshSummary]


@pytest.fixture
def fake() -> Iterator[FakeLanguageModel]:
    exchanges = recorded()
    for exchange in exchanges.values():  # the recorded shapes of a reply that goes wrong
        if exchange.pop("fenced", False):
            exchange["reply"] = completion("```json\n" + json.dumps(exchange["reading"]) + "\n```")
        elif "reply_content" in exchange:
            exchange["reply"] = completion(exchange["reply_content"])
        elif exchange.pop("cut_off", False):
            exchange["reply"] = completion(json.dumps(exchange["reading"])[:40], finish_reason="length")
    with FakeLanguageModel(exchanges).running() as server:
        yield server


def _context(engine: Engine, server: FakeLanguageModel, timeout: float = 1.0) -> Context:
    model = LanguageModel(LanguageModelSettings(url=server.url, model="llama3.1", key="sk-local", timeout=timeout))
    return Context(session_factory=sessionmaker(engine), clock=datetime.now, default_role="manager",
                   min_group=1, language_model=model)


def _respond(engine: Engine, context: Context, question: str) -> ask.Response:
    return ask.respond(Request("U0ASKER01", "D0DIRECT01", question, place="im"), context)


def test_an_unsure_question_is_read_by_the_model_and_answered_from_the_store(refreshed: Refreshed,
                                                                              fake: FakeLanguageModel) -> None:
    engine = refreshed[0]
    context = _context(engine, fake)
    french = _respond(engine, context, "give me the lowdown on how the French shops are performing")
    assert french.understood.read_by == "language model" and french.understood.intent == "metric"
    assert french.measured is not None and french.understood.question is not None
    assert french.understood.question.filters.country == "France"
    assert "Net revenue in France" in french.message.text and "£" in french.message.text

    spenders = _respond(engine, context, "who's been spending like crazy lately")
    question = spenders.understood.question
    assert question is not None and question.group_by == "customer" and question.top == 10
    assert question.period is not None and question.period.said.startswith("the last 30 days")  # re-read from words

    assert _respond(engine, context, "anything worth knowing?").understood.reading.command == "/crm digest"  # type: ignore[union-attr]
    walk = _respond(engine, context, "bring me up to speed on the folks who might walk")  # a tool call
    assert walk.understood.reading is not None and walk.understood.reading.command == "/crm atrisk"
    rules = _respond(engine, context, "cart companions for the jumbo bag red retrospot")
    assert rules.understood.reading is not None and rules.understood.reading.text == "85099B"
    fenced = _respond(engine, context, "how's the till looking for the lads in germany")
    assert fenced.understood.question is not None and fenced.understood.question.compare == "previous"
    assert "Germany" in fenced.message.text


def test_what_is_sent_is_the_question_and_the_catalogue_only(refreshed: Refreshed, fake: FakeLanguageModel) -> None:
    engine = refreshed[0]
    context = _context(engine, fake)
    _respond(engine, context, "give me the lowdown on how the French shops are performing")
    _respond(engine, context, "give me the lowdown on how the French shops are performing")  # remembered
    assert fake.questions() == ["give me the lowdown on how the French shops are performing"]
    sent = json.dumps(fake.bodies)
    with Session(engine) as session:
        customers = session.scalars(select(Customer.external_id).limit(200)).all()
        products = session.scalars(select(Product.description).where(Product.kind == "product").limit(200)).all()
    assert not [c for c in customers if f'"{c}"' in sent or f" {c} " in sent]
    assert not [p for p in products if p and p.lower() in sent.lower()]
    assert "United Kingdom" not in sent and "£" not in sent
    body = fake.bodies[0]
    assert body["model"] == "llama3.1" and body["response_format"]["type"] == "json_schema"
    assert "net_revenue" in body["messages"][0]["content"] and "Champions" in body["messages"][0]["content"]
    assert fake.headers[0]["Authorization"] == "Bearer sk-local"


def test_the_model_is_not_asked_when_the_reader_is_sure(refreshed: Refreshed, fake: FakeLanguageModel) -> None:
    engine = refreshed[0]
    context = _context(engine, fake)
    for question in ("revenue last month by country", "/customer 12748", "what goes with the jumbo bag red "
                     "retrospot", "at risk in germany", "help"):
        assert _respond(engine, context, question).understood.read_by == "parser"
    assert fake.bodies == []


@pytest.mark.parametrize("question", [
    "show me that guy's card",  # a customer the question does not name
    "how are the folks in atlantis doing",  # a country the store does not have
    "what's the vibe",  # a metric that does not exist
    "tell me something good",  # prose, not JSON
    "are we on track or what",  # HTTP 502 with an HTML page
    "how did the spring go, roughly",  # a period in words the reader does not know
    "run me the usual numbers",  # cut off
])
def test_a_reply_that_fails_the_checks_falls_back_to_asking_back(refreshed: Refreshed, fake: FakeLanguageModel,
                                                                 question: str) -> None:
    engine = refreshed[0]
    response = _respond(engine, _context(engine, fake), question)
    assert response.understood.reading is None and response.understood.read_by == "parser"
    assert "Did you mean" in response.message.text
    assert fake.questions() == [question]


def test_a_slow_model_falls_back_within_the_timeout(refreshed: Refreshed, fake: FakeLanguageModel) -> None:
    engine = refreshed[0]
    started = time.monotonic()
    message = answer(ask.run, Request("U0ASKER01", "D0DIRECT01", "hows it going lately", place="im"),
                     _context(engine, fake, timeout=0.5), "/crm ask")
    assert time.monotonic() - started < 2.5  # the fake holds it for 3 s
    assert "Did you mean" in message.text


def test_an_unreachable_model_falls_back(refreshed: Refreshed) -> None:
    engine = refreshed[0]
    server = FakeLanguageModel({})
    url = server.url
    server._server.server_close()  # nothing listens there any more
    model = LanguageModel(LanguageModelSettings(url=url, model="m", timeout=1.0))
    context = Context(session_factory=sessionmaker(engine), clock=datetime.now, language_model=model)
    assert "Did you mean" in _respond(engine, context, "give me the lowdown on how the French shops are "
                                                       "performing").message.text


def test_settings_name_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_LLM_URL", "http://127.0.0.1:11434/v1")
    with pytest.raises(SettingsError, match="CRM_LLM_MODEL"):
        load_settings()
    monkeypatch.setenv("CRM_LLM_URL", "ftp://example.org/v1")
    with pytest.raises(SettingsError, match="CRM_LLM_URL"):
        load_settings()
    monkeypatch.setenv("CRM_LLM_URL", "http://127.0.0.1:11434/v1")
    monkeypatch.setenv("CRM_LLM_MODEL", "llama3.1")
    monkeypatch.setenv("CRM_LLM_KEY", "sk-secret-value")
    settings = load_settings()
    assert settings.llm_model == "llama3.1" and "sk-secret-value" not in repr(settings)


def test_crm_bot_ask_and_doctor_use_the_configured_model(demo_folder: Path, fake: FakeLanguageModel) -> None:
    tmp_path = demo_folder
    env = {"CRM_LLM_URL": fake.url, "CRM_LLM_MODEL": "llama3.1", "CRM_LLM_TIMEOUT_SECONDS": "2"}
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("CRM_", "DATABASE_URL"))}
    asked = subprocess.run([CRM_BOT, "ask", "--json"], cwd=tmp_path, env={**clean, **env}, text=True,
                           input="give me the lowdown on how the French shops are performing\nrevenue last month\n"
                                 "tell me something good\n", capture_output=True, timeout=300, check=False)
    assert asked.returncode == 0, asked.stderr
    lines = [json.loads(line) for line in asked.stdout.splitlines()]
    assert [line["read_by"] for line in lines] == ["language model", "parser", "parser"]
    assert lines[0]["filters"] == {"country": "France"} and lines[0]["value"] > 0
    assert lines[2]["asked_back"] == ["Help", "All segments"]
    doctor = crm_bot("doctor", cwd=tmp_path, env=env)
    assert "ok   Language model: " + fake.url + "/chat/completions (model llama3.1) read a test question" \
        in doctor.stdout


def test_probe_says_whether_the_model_answers(fake: FakeLanguageModel) -> None:
    answers, detail = LanguageModel(LanguageModelSettings(url=fake.url, model="m")).probe()
    assert answers and "read a test question" in detail
    broken = FakeLanguageModel({"what can you do?": {"question": "what can you do?", "status": 401,
                                                     "raw": '{"error": {"message": "invalid api key"}}'}})
    with broken.running():
        answers, detail = LanguageModel(LanguageModelSettings(url=broken.url, model="m")).probe()
    assert not answers and "gave no reading" in detail
