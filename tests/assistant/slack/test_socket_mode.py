"""Socket Mode end to end: the real Bolt app connects to the fake's WebSocket, gets envelopes, acks them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from assistant.commands.base import Context
from assistant.jobs.refresh.run import RefreshSummary
from assistant.slack.app import build_app, make_client
from assistant.slack.fake import FakeSlack
from assistant.slack.server import socket_mode_handler


@pytest.fixture(scope="module")
def socket_bot(refreshed: tuple[Engine, RefreshSummary, RefreshSummary]) -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        context = Context(session_factory=sessionmaker(refreshed[0]), clock=datetime.now, default_role="admin")
        app = build_app(context, make_client("xoxb-test", fake.url), signing_secret="", socket_mode=True)
        handler = socket_mode_handler(app, "xapp-1-test")
        handler.connect()
        yield fake
        handler.close()


def test_envelopes_have_slacks_shape(slack_payloads: Path, socket_bot: FakeSlack) -> None:
    real = json.loads((slack_payloads / "slash_command.socket_mode_envelope.json").read_text())
    ours = socket_bot.command_payload("/customer", "12748")
    assert set(real["payload"]) <= set(ours)
    assert json.loads((slack_payloads / "socket_mode.hello.json").read_text())["type"] == "hello"
    assert socket_bot.calls_to("apps.connections.open"), "the bot asked for its WebSocket URL"


def test_slash_command_is_acked_over_the_socket_and_answered(socket_bot: FakeSlack) -> None:
    before = len(socket_bot.calls_to("response_url"))
    envelope = socket_bot.send_over_socket("slash_commands", socket_bot.command_payload("/customer", "12748"))
    assert socket_bot.socket_ack(envelope)["envelope_id"] == envelope
    calls = socket_bot.wait_for(lambda c: sum(x.method == "response_url" for x in c) > before)
    reply = [c for c in calls if c.method == "response_url"][before].params
    assert "12748" in reply["text"] and reply["response_type"] == "ephemeral"


def test_usage_error_comes_back_in_the_ack_payload(socket_bot: FakeSlack) -> None:
    envelope = socket_bot.send_over_socket("slash_commands", socket_bot.command_payload("/crm", "atrisk --top 0"))
    ack = socket_bot.socket_ack(envelope)
    assert "--top takes a number from 1 to 50" in json.dumps(ack.get("payload", {}))


def test_button_and_mention_over_the_socket(socket_bot: FakeSlack) -> None:
    before = len(socket_bot.calls_to("response_url"))
    envelope = socket_bot.send_over_socket("interactive", socket_bot.click_payload("crm.rules", "|10", "More"))
    socket_bot.socket_ack(envelope)
    calls = socket_bot.wait_for(lambda c: sum(x.method == "response_url" for x in c) > before)
    assert "Rules 11-20" in json.dumps([c for c in calls if c.method == "response_url"][before].params)

    posts = len(socket_bot.calls_to("chat.postMessage"))
    envelope = socket_bot.send_over_socket("events_api", socket_bot.mention_payload("who are our champions?"))
    socket_bot.socket_ack(envelope)
    calls = socket_bot.wait_for(lambda c: sum(x.method == "chat.postMessage" for x in c) > posts)
    answer = [c for c in calls if c.method == "chat.postMessage"][posts].params
    assert "Champions" in answer["text"] and answer.get("thread_ts")

    # Slack re-sends an event it thinks was lost (retry_attempt 1): acknowledged, not answered twice.
    retry = socket_bot.send_over_socket("events_api", socket_bot.mention_payload("who are our champions?"),
                                        retry_attempt=1)
    socket_bot.socket_ack(retry)
    envelope = socket_bot.send_over_socket("events_api", socket_bot.mention_payload("model health"))
    socket_bot.socket_ack(envelope)
    calls = socket_bot.wait_for(lambda c: sum(x.method == "chat.postMessage" for x in c) > posts + 1)
    later = [c.params["text"] for c in calls if c.method == "chat.postMessage"][posts + 1:]
    assert len(later) == 1 and "Champions" not in later[0]
