"""Health, readiness and metrics over real HTTP; logs as JSON with request ids and nothing secret."""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import datetime

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from assistant.commands.answer import answer
from assistant.commands.base import Context, Request
from assistant.commands.registry import COMMANDS
from assistant.jobs.refresh.run import RefreshSummary
from assistant.ops.logs import configure_logging, redact
from assistant.ops.probes import Probes, start_probes
from assistant.slack.app import build_app, make_client
from assistant.slack.fake import FakeSlack
from assistant.slack.server import start_in_background, stop_server
from db.engine import make_engine


def _get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@pytest.fixture
def probes_on(refreshed: tuple[Engine, RefreshSummary, RefreshSummary]) -> Iterator[tuple[Probes, int]]:
    probes = Probes(refreshed[0])
    server = start_probes(probes, 0, host="127.0.0.1")
    yield probes, server.effective_port
    stop_server(server)


def test_healthy_store_is_live_ready_and_measured(probes_on: tuple[Probes, int],
                                                  refreshed: tuple[Engine, RefreshSummary, RefreshSummary]) -> None:
    probes, port = probes_on
    assert _get(port, "/healthz") == (200, '{"status": "ok"}')
    status, body = _get(port, "/readyz")
    assert status == 200 and json.loads(body) == {"ready": True, "checks": {"database": "ok", "schema": "ok"}}
    context = Context(session_factory=sessionmaker(refreshed[0]), clock=datetime.now, default_role="admin")
    answer(COMMANDS["/segments"].run, Request("U1", "C1", "Champions"), context, "/segments")
    answer(COMMANDS["/segments"].run, Request("U1", "C1", "Nobody"), context, "/segments")
    status, metrics = _get(port, "/metrics")
    assert status == 200
    assert 'crm_commands_total{command="/segments",outcome="ok"}' in metrics
    assert 'crm_commands_total{command="/segments",outcome="user_error"}' in metrics
    assert 'crm_command_seconds_bucket{command="/segments"' in metrics
    assert "crm_analytics_run_age_seconds" in metrics
    assert 'crm_model_age_seconds{target="purchase_next_90_days"}' in metrics
    probes.slack_connected = lambda: False  # Socket Mode dropped
    status, body = _get(port, "/readyz")
    assert status == 503 and json.loads(body)["checks"]["slack"] == "Socket Mode connection is down"
    assert _get(port, "/nope")[0] == 404


def test_an_unreachable_store_is_live_but_not_ready() -> None:
    server = start_probes(Probes(make_engine("postgresql://postgres@127.0.0.1:9/crm")), 0, host="127.0.0.1")
    try:
        assert _get(server.effective_port, "/healthz")[0] == 200
        status, body = _get(server.effective_port, "/readyz")
        assert status == 503 and json.loads(body)["checks"]["database"].startswith("unreachable")
        assert _get(server.effective_port, "/metrics")[0] == 200  # still scrapeable during the outage
    finally:
        stop_server(server)


def test_logs_are_json_with_request_ids_and_never_hold_tokens_or_addresses(
        capfd: pytest.CaptureFixture[str], refreshed: tuple[Engine, RefreshSummary, RefreshSummary]) -> None:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        configure_logging("INFO", "json")

        def leaky(request: Request, context: Context) -> object:
            raise RuntimeError(f"failed for jane.doe@example.com with xoxb-1234-secret ({request.text})")

        context = Context(session_factory=sessionmaker(refreshed[0]), clock=datetime.now, default_role="admin")
        message = answer(leaky, Request("U1", "C1", "xapp-1-A0-token"), context)  # type: ignore[arg-type]
        lines = [json.loads(line) for line in capfd.readouterr().err.splitlines() if line.startswith("{")]
    finally:
        root.handlers[:], _ = saved[0], root.setLevel(saved[1])
    [record] = [r for r in lines if r["level"] == "ERROR"]
    assert record["request_id"] != "-" and "ref " in message.text
    text = json.dumps(record)
    assert "jane.doe@example.com" not in text and "xoxb-1234" not in text and "xapp-1-A0" not in text
    assert "j***@example.com" in text and "xoxb-***" in text
    assert redact("postgresql://crm:hunter2@db/crm") == "postgresql://crm:***@db/crm"


@pytest.mark.parametrize("level", ["DEBUG", "INFO"])
def test_a_forged_request_leaves_no_typed_text_in_the_log(capfd: pytest.CaptureFixture[str], level: str,
                                                         refreshed: tuple[Engine, RefreshSummary, RefreshSummary]
                                                         ) -> None:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        configure_logging(level, "text")
        with FakeSlack() as fake:
            context = Context(session_factory=sessionmaker(refreshed[0]), clock=datetime.now, default_role="admin")
            server = start_in_background(build_app(context, make_client("xoxb-test", fake.url), "the-real-secret"))
            try:
                status, _ = fake.send_command(server.url, "a-forged-secret", "/customer", "confidential-words 12748")
            finally:
                server.stop()
        err = capfd.readouterr().err
    finally:
        root.handlers[:], _ = saved[0], root.setLevel(saved[1])
    assert status == 401
    assert "Invalid request signature" in err and "body: not logged" in err  # the rejection itself is logged
    assert "confidential-words" not in err and "confidential" not in err and "response_url" not in err
