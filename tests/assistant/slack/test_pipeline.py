"""The whole Bolt pipeline over real HTTP: signed requests in, what the bot asked Slack to do out.

Runs on the refreshed demo sample, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import json
import socket
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import pytest
from slack_sdk.models.blocks import Block
from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from assistant.commands.base import Context
from assistant.commands.registry import HELP_LINE
from assistant.jobs.refresh.run import RefreshSummary
from assistant.slack.app import build_app, make_client
from assistant.slack.fake import FakeSlack
from assistant.slack.ratelimit import RateLimiter
from assistant.slack.server import MAX_BODY_BYTES, RunningServer, start_in_background
from db.engine import make_engine

SECRET = "test-signing-secret"


@dataclass
class Bot:
    fake: FakeSlack
    server: RunningServer

    def command(self, command: str, text: str, **kwargs: object) -> tuple[int, str]:
        return self.fake.send_command(self.server.url, SECRET, command, text, **kwargs)  # type: ignore[arg-type]

    def reply(self, before: int, method: str = "response_url") -> dict[str, object]:
        calls = self.fake.wait_for(lambda c: sum(x.method == method for x in c) > before)
        params = [c for c in calls if c.method == method][before].params
        blocks = params.get("blocks") or []
        return {**params, "blocks": json.loads(blocks) if isinstance(blocks, str) else blocks}

    def count(self, method: str = "response_url") -> int:
        return len(self.fake.calls_to(method))


def _bot(engine: Engine) -> Iterator[Bot]:
    with FakeSlack() as fake:
        context = Context(session_factory=sessionmaker(engine), clock=datetime.now, default_role="admin")
        server = start_in_background(build_app(context, make_client("xoxb-test", fake.url), SECRET,
                                               limiter=RateLimiter(10_000)))
        yield Bot(fake, server)
        server.stop()


@pytest.fixture(scope="module")
def bot(refreshed: tuple[Engine, RefreshSummary, RefreshSummary]) -> Iterator[Bot]:
    yield from _bot(refreshed[0])


def _valid(blocks: list[dict[str, object]]) -> None:
    assert 0 < len(blocks) <= 50
    for raw in blocks:
        Block.parse(raw).validate_json()  # type: ignore[union-attr]


def test_customer_card_is_acked_fast_and_answered_privately_with_every_score(bot: Bot) -> None:
    before = bot.count()
    started = time.perf_counter()
    status, body = bot.command("/customer", "12748")
    ack_seconds = time.perf_counter() - started
    assert (status, body) == (200, "") and ack_seconds < 2.0
    reply = bot.reply(before)
    assert reply["response_type"] == "ephemeral"
    text = json.dumps(reply["blocks"])
    for expected in ("Customer 12748", "Segment", "Purchase propensity", "Churn risk", "Next order expected",
                     "12-month value", "Offer next", "customer.orders", "customer.why"):
        assert expected in text, expected
    assert "likely to buy in the next 90 days" in str(reply["text"])
    _valid(reply["blocks"])  # type: ignore[arg-type]


def test_buttons_orders_paginate_and_why_shows_every_factor(bot: Bot) -> None:
    before = bot.count()
    bot.fake.click(bot.server.url, SECRET, "customer.orders", "12748|0", "Orders")
    page = bot.reply(before)
    assert "Orders of 12748" in json.dumps(page["blocks"]) and "1-10" in str(page["text"])
    more = [e for b in page["blocks"] if b["type"] == "actions" for e in b["elements"]]  # type: ignore[index]
    assert more and more[0]["value"] == "12748|10"
    bot.fake.click(bot.server.url, SECRET, "customer.orders", more[0]["value"], "More")
    assert "Orders 11-20 of 12748" in str(bot.reply(before + 1)["text"])
    bot.fake.click(bot.server.url, SECRET, "customer.why", "12748", "Why?")
    why = json.dumps(bot.reply(before + 2)["blocks"])
    assert "purchase_next_90_days" in why and "other, smaller factors together" in why and "add up" in why


def test_usage_errors_are_answered_in_the_ack_and_nothing_else_happens(bot: Bot) -> None:
    def replies() -> list[str]:  # Bolt's own auth.test (its authorization look-up) may land at any time
        return [call.method for call in bot.fake.calls if call.method != "auth.test"]
    before = replies()
    status, body = bot.command("/crm", "frobnicate")
    assert status == 200 and f"unknown /crm command 'frobnicate'; {HELP_LINE}" in body
    status, body = bot.command("/crm", "atrisk --top lots")
    assert "invalid int value: 'lots'" in body and "Usage: /crm atrisk" in body
    assert replies() == before


def test_forged_or_stale_requests_get_401_and_run_nothing(bot: Bot) -> None:
    before = len(bot.fake.calls)
    assert bot.fake.send_command(bot.server.url, "not-the-secret", "/customer", "12748")[0] == 401
    stale = int(time.time()) - 10 * 60
    assert bot.command("/customer", "12748", timestamp=stale)[0] == 401
    time.sleep(0.3)
    assert len(bot.fake.calls) == before


def test_an_oversized_request_body_is_refused_before_anything_reads_it(bot: Bot) -> None:
    before = len(bot.fake.calls)
    url = urllib.parse.urlsplit(bot.server.url)
    with socket.create_connection((url.hostname, url.port), timeout=30) as connection:
        connection.sendall(f"POST {url.path} HTTP/1.1\r\nHost: {url.hostname}\r\n"
                           "Content-Type: application/x-www-form-urlencoded\r\n"
                           f"Content-Length: {MAX_BODY_BYTES + 1}\r\n\r\ncommand=%2Fcustomer&text=".encode())
        status_line = connection.makefile("rb").readline().decode()
    assert status_line.split()[1] == "413", status_line  # refused on the declared size, body unread
    assert bot.command("/crm", "help")[0] == 200  # the server carries on
    time.sleep(0.3)
    assert [c.method for c in bot.fake.calls[before:] if c.method != "auth.test"] == ["response_url"]


def test_help_comes_from_the_registry(bot: Bot) -> None:
    from assistant.commands.registry import COMMANDS

    before = bot.count()
    bot.command("/crm", "help")
    text = json.dumps(bot.reply(before)["blocks"])
    assert all(spec.usage in text for spec in COMMANDS.values())


def test_mentions_are_answered_in_the_thread_once_even_when_slack_retries(bot: Bot) -> None:
    posts = bot.count("chat.postMessage")
    status, _ = bot.fake.mention(bot.server.url, SECRET, "what do people buy with the white hanging heart?")
    assert status == 200
    answer = bot.reply(posts, "chat.postMessage")
    assert answer["thread_ts"] and "WHITE HANGING HEART T-LIGHT HOLDER" in str(answer["text"])
    ephemeral = bot.count("chat.postEphemeral")
    assert bot.fake.mention(bot.server.url, SECRET, "tell me about 12748", retry=1)[0] == 200
    time.sleep(0.5)
    assert bot.count("chat.postMessage") == posts + 1  # the retry was acknowledged, not answered again
    assert bot.count("chat.postEphemeral") == ephemeral
    bot.fake.mention(bot.server.url, SECRET, "tell me about 12748")
    card = bot.reply(ephemeral, "chat.postEphemeral")  # one customer's details in a channel: asker only
    assert card["user"] == "U0ADMIN01" and "Customer 12748" in str(card["text"]) and card["thread_ts"]
    bot.fake.mention(bot.server.url, SECRET, "15034")  # the store has customer 15034 and product 15034: ask
    ask = bot.reply(posts + 1, "chat.postMessage")
    buttons = [e for b in ask["blocks"] if b["type"] == "actions" for e in b["elements"]]  # type: ignore[index]
    assert [b["text"]["text"] for b in buttons] == ["Card of customer 15034", "Rules about product 15034"]
    before = bot.count()
    bot.fake.click(bot.server.url, SECRET, buttons[0]["action_id"], buttons[0]["value"], "Card")
    assert "Customer 15034" in str(bot.reply(before)["text"])
    ephemeral = bot.count("chat.postEphemeral")
    bot.fake.mention(bot.server.url, SECRET, "12748")  # only a customer: no need to ask
    assert "Customer 12748" in str(bot.reply(ephemeral, "chat.postEphemeral")["text"])


def test_questions_about_numbers_are_answered_in_the_thread(bot: Bot) -> None:
    posts = bot.count("chat.postMessage")
    assert bot.fake.mention(bot.server.url, SECRET, "what was revnue last month by country?")[0] == 200
    answer = bot.reply(posts, "chat.postMessage")
    text = json.dumps(answer["blocks"], ensure_ascii=False)
    assert answer["thread_ts"] and "Net revenue by country, in November 2011 (2011-11-01 to 2011-11-30)" in text
    assert "1. United Kingdom: £" in text and "Net revenue = merchandise" in text
    _valid(answer["blocks"])  # type: ignore[arg-type]
    before = bot.count()
    assert bot.command("/crm", "ask how many customers do we have in France?") == (200, "")
    assert "Customers in France now: 27." in str(bot.reply(before)["text"])
    posts = bot.count("chat.postMessage")  # a follow-up in the answer's thread refines it
    bot.fake.mention(bot.server.url, SECRET, "and in France?", thread_ts=str(answer["thread_ts"]))
    follow_up = bot.reply(posts, "chat.postMessage")
    assert follow_up["thread_ts"] == answer["thread_ts"]
    assert "Net revenue in France by country" not in str(follow_up["text"])
    assert "in November 2011" in str(follow_up["text"]) and "France" in str(follow_up["text"])


def test_a_series_answer_brings_its_chart_into_the_thread(bot: Bot) -> None:
    posts, uploads = bot.count("chat.postMessage"), bot.count("files.completeUploadExternal")
    bot.fake.mention(bot.server.url, SECRET, "revenue by month")
    answer = bot.reply(posts, "chat.postMessage")
    assert "Net revenue by month" in str(answer["text"])
    done = bot.fake.wait_for(lambda c: sum(x.method == "files.completeUploadExternal" for x in c) > uploads)
    upload = [c for c in done if c.method == "files.completeUploadExternal"][uploads].params
    assert upload["thread_ts"] == answer["thread_ts"]
    assert any(png.startswith(b"\x89PNG") for png in bot.fake.uploads.values())


@pytest.mark.parametrize("text", ["", " ", "x" * 10_000, "' OR 1=1 --", "<@U123> <!channel>", "\u00e9\u00e8\U0001f600",
                                  "99999999", "%", "_", "\\"])
def test_hostile_text_gets_words_not_tracebacks(bot: Bot, text: str) -> None:
    before = bot.count()
    status, body = bot.command("/customer", text)
    assert status == 200
    reply_text = body or str(bot.reply(before)["text"])
    assert "Traceback" not in reply_text and "Error" not in reply_text[:6]
    assert any(word in reply_text for word in ("customer", "characters", "Customer")), reply_text


def test_a_database_outage_is_explained_and_the_bot_recovers(tmp_path: object) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/gone/nowhere/store.db")  # a directory that does not exist
    for running in _bot(engine):
        before = running.count()
        running.command("/customer", "12748")
        reply = str(running.reply(before)["text"])
        assert reply.startswith("The customer store is not reachable right now (ref ")
        assert running.command("/crm", "help")[0] == 200  # still serving


def test_long_rule_lists_page_with_more(bot: Bot) -> None:
    before = bot.count()
    bot.command("/crm", "rules")
    first = bot.reply(before)
    more = [e for b in first["blocks"] if b["type"] == "actions" for e in b["elements"]]  # type: ignore[index]
    assert "Rules 1-10" in json.dumps(first["blocks"]) and more[0]["value"] == "|10"
    bot.fake.click(bot.server.url, SECRET, more[0]["action_id"], more[0]["value"], "More")
    second = bot.reply(before + 1)
    assert "Rules 11-20" in json.dumps(second["blocks"])
    assert second["text"] != first["text"]


def test_app_home_lists_the_users_own_accounts_at_risk(bot: Bot, refreshed: tuple[Engine, RefreshSummary,
                                                                                   RefreshSummary]) -> None:
    from sqlalchemy import update

    from db.models import Customer

    engine = refreshed[0]
    bot.fake.add_user("U0REP0001", "robin")
    before = bot.count("views.publish")
    bot.fake.open_home(bot.server.url, SECRET, "U0REP0001")
    empty = bot.reply(before, "views.publish")
    assert "No customers are assigned to you" in json.dumps(empty["view"])
    with engine.begin() as connection:
        connection.execute(update(Customer).where(Customer.external_id.in_(["12748", "12557"]))
                           .values(owner="U0REP0001"))
    try:
        bot.fake.open_home(bot.server.url, SECRET, "U0REP0001")
        mine = json.dumps(bot.reply(before + 1, "views.publish")["view"])
        assert "Your accounts at risk" in mine and "12748" in mine and "12557" in mine and "12950" not in mine
    finally:
        with engine.begin() as connection:
            connection.execute(update(Customer).where(Customer.owner == "U0REP0001").values(owner=None))


def test_a_channel_the_bot_cannot_post_in_gets_the_asker_told_how_to_invite_it(bot: Bot) -> None:
    bot.fake.add_channel("C0NOBOT01", "sales")  # the bot is not a member
    bot.fake.add_channel("G0PRIV001", "deals", kind="private")
    for channel, text in (("C0NOBOT01", "who are our champions?"), ("G0PRIV001", "tell me about 12748")):
        assert bot.fake.mention(bot.server.url, SECRET, text, channel_id=channel)[0] == 200
        calls = bot.fake.wait_for(lambda c, where=channel: any(
            x.params.get("channel") == "U0ADMIN01" and where in str(x.params.get("text")) for x in c))
        told = [c.params for c in calls if c.params.get("channel") == "U0ADMIN01" and channel in str(c.params)]
        assert len(told) == 1 and "/invite @crm" in str(told[0]["text"])


def test_a_user_beyond_the_rate_limit_is_told_to_slow_down_and_others_are_not(
        refreshed: tuple[Engine, RefreshSummary, RefreshSummary]) -> None:
    with FakeSlack() as fake:
        context = Context(session_factory=sessionmaker(refreshed[0]), clock=datetime.now, default_role="admin")
        server = start_in_background(build_app(context, make_client("xoxb-test", fake.url), SECRET,
                                               limiter=RateLimiter(3)))
        try:
            bodies = [fake.send_command(server.url, SECRET, "/crm", "help", user_id="U0FAST001")[1] for _ in range(4)]
            assert bodies[:3] == ["", "", ""] and "You are going fast: 3 commands in the last minute" in bodies[3]
            assert fake.send_command(server.url, SECRET, "/crm", "help", user_id="U0CALM001")[1] == ""
            fake.mention(server.url, SECRET, "who are our champions?", user_id="U0FAST001")
            told = fake.wait_for(lambda c: any(x.method == "chat.postEphemeral" for x in c))
            refusal = next(x.params for x in told if x.method == "chat.postEphemeral")
            assert refusal["user"] == "U0FAST001" and "going fast" in refusal["text"]
        finally:
            server.stop()
