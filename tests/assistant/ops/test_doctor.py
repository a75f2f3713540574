"""crm-bot doctor: every check against real things (stores, the fake Slack), and the words it gives."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine

from assistant.jobs.refresh.run import RefreshSummary
from assistant.ops.doctor import settings_checks, store_checks
from assistant.ops.settings import load_settings
from assistant.slack.app import make_client
from assistant.slack.doctor import REQUIRED_SCOPES, slack_checks
from assistant.slack.fake import FakeSlack
from db.engine import make_engine

ROOT = Path(__file__).resolve().parents[3]


def test_the_manifest_asks_for_exactly_the_scopes_doctor_checks() -> None:
    manifest = (ROOT / "deploy" / "slack-app-manifest.yml").read_text()
    bot = manifest.split("bot:", 1)[1].split("settings:", 1)[0]
    assert sorted(re.findall(r"^\s+- ([a-z_:.]+)", bot, flags=re.M)) == sorted(REQUIRED_SCOPES)


def test_a_working_installation_is_all_good(refreshed: tuple[Engine, RefreshSummary, RefreshSummary]) -> None:
    found = store_checks(refreshed[0], datetime.now())
    assert [c.name for c in found] == ["Database", "Schema", "Data", "Analytics", "Digests"]
    assert all(c.ok for c in found if c.name != "Data"), found
    data = found[2]  # the sample ends in 2011: said, as the digest says it, but nothing to fix
    assert data.ok is None and data.detail.startswith("latest order 2011-12-09, ") and "historical data" in data.detail
    assert not data.fix
    with FakeSlack() as fake:
        slack = slack_checks(make_client("xoxb-test", fake.url))
        assert [c.ok for c in slack] == [True, True]
        fake.scopes.remove("channels:history")
        missing = slack_checks(make_client("xoxb-test", fake.url))[1]
        assert missing.ok is False and "channels:history" in missing.detail and "reinstall" in missing.fix
        bad = slack_checks(make_client("not-a-token", fake.url))
        assert bad[0].ok is False and "not_authed" in bad[0].detail and "SLACK_BOT_TOKEN" in bad[0].fix


def test_what_is_broken_is_named_with_its_fix(tmp_path: Path, engine: Engine) -> None:
    nowhere = store_checks(make_engine(f"sqlite:///{tmp_path / 'missing.db'}"), datetime.now())
    assert nowhere[0].ok is False and "crm-bot demo" in nowhere[0].fix
    assert not (tmp_path / "missing.db").exists()  # looking did not create it
    down = store_checks(make_engine("postgresql://postgres@127.0.0.1:9/crm"), datetime.now())
    assert down[0].ok is False and "database server is running" in down[0].fix
    empty = store_checks(engine, datetime.now())  # migrated, but nothing loaded
    assert {c.name: c.ok for c in empty}["Data"] is False and {c.name: c.ok for c in empty}["Analytics"] is False
    no_mode = settings_checks(load_settings(slack_bot_token="xoxb-1"))
    assert no_mode[0].ok is False and "SLACK_APP_TOKEN" in no_mode[0].fix
    assert settings_checks(load_settings(slack_bot_token="xoxb-1", slack_app_token="xapp-1"))[0].ok
