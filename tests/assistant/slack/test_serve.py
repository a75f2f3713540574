"""`crm-bot serve` as deployed: its own process, HTTP mode, probes, and a SIGTERM that waits for work in flight."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from assistant.jobs.refresh.run import RefreshSummary
from assistant.slack.fake import FakeSlack

ROOT = Path(__file__).resolve().parents[3]
SECRET = "serve-test-secret"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for(url: str, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.status
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(url)


@pytest.fixture
def served(refreshed: tuple[Engine, RefreshSummary, RefreshSummary]) -> Iterator[tuple[FakeSlack, str, int,
                                                                                      subprocess.Popen[str]]]:
    http, health = _free_port(), _free_port()
    with FakeSlack() as fake:
        env = {**os.environ, "DATABASE_URL": refreshed[0].url.render_as_string(hide_password=False),
               "SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": fake.url,
               "CRM_HTTP_PORT": str(http), "CRM_HEALTH_PORT": str(health)}
        process = subprocess.Popen([sys.executable, str(ROOT / "bot.py"), "serve"], env=env, cwd=ROOT,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            assert _wait_for(f"http://127.0.0.1:{health}/readyz") == 200
            url = f"http://127.0.0.1:{http}/slack/events"
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:  # the Slack port opens just after the probes
                try:
                    if fake.send_command(url, SECRET, "/crm", "help")[0] == 200:
                        break
                except OSError:
                    time.sleep(0.2)
            yield fake, url, health, process
        finally:
            if process.poll() is None:
                process.kill()
            process.communicate(timeout=30)


def test_sigterm_finishes_the_answer_in_flight_then_exits_cleanly(served: tuple[FakeSlack, str, int,
                                                                                subprocess.Popen[str]]) -> None:
    fake, url, health, process = served
    assert _wait_for(f"http://127.0.0.1:{health}/healthz") == 200
    release = threading.Event()
    fake.lose_next_reply("response_url", hold=release)  # the card is being delivered when SIGTERM comes
    before = len(fake.calls_to("response_url"))
    assert fake.send_command(url, SECRET, "/customer", "12748")[0] == 200
    fake.wait_for(lambda calls: sum(c.method == "response_url" for c in calls) > before, timeout=30)
    process.send_signal(signal.SIGTERM)
    time.sleep(1.5)
    assert process.poll() is None, "it must not exit while an answer is still being delivered"
    release.set()
    process.wait(timeout=30)
    assert process.returncode == 0


def _serve_once(api_url: str, token: str, store: Engine) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": store.url.render_as_string(hide_password=False), "SLACK_BOT_TOKEN": token,
           "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": api_url, "CRM_HTTP_PORT": str(_free_port()),
           "CRM_HEALTH_PORT": "0"}
    return subprocess.run([sys.executable, str(ROOT / "bot.py"), "serve"], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=False)


def test_a_wrong_token_or_no_slack_stops_serve_at_start_with_what_to_do(
        refreshed: tuple[Engine, RefreshSummary, RefreshSummary]) -> None:
    with FakeSlack() as fake:
        fake.revoked.add("xoxb-typo")
        ended = _serve_once(fake.url, "xoxb-typo", refreshed[0])
        assert ended.returncode == 2
        assert "Slack refused the bot token (auth.test answered invalid_auth)" in ended.stderr
        assert "SLACK_BOT_TOKEN" in ended.stderr and "Traceback" not in ended.stderr
        assert [c.method for c in fake.calls] == ["auth.test"]  # nothing else was tried with it
        gone = fake.url
    ended = _serve_once(gone, "xoxb-test", refreshed[0])  # that fake has stopped: nothing answers there
    assert ended.returncode == 2 and "Slack is not reachable" in ended.stderr and "Traceback" not in ended.stderr


def test_serve_says_which_workspace_and_bot_it_is_at_start(served: tuple[FakeSlack, str, int,
                                                                         subprocess.Popen[str]]) -> None:
    fake, _url, _health, process = served
    assert fake.calls[0].method == "auth.test"
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=30)
    assert "Slack: bot @crm (UCRMBOT01) in workspace Example (T0001)." in output
