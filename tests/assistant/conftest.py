"""Fixtures of the assistant tests: the demo sample refreshed (shared, read-only), and a folder
made by ``crm-bot demo`` for the tests that run the command line in it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete
from sqlalchemy.orm import Session

from assistant.jobs.refresh.inputs import RefreshParams
from assistant.jobs.refresh.run import RefreshSummary, run_refresh
from db.digest_models import AlertDelivery, AlertRule, DigestDelivery, DigestSubscription

EARLIER = datetime(2011, 9, 30, 23, 59)
DEMO_DATABASE = "crm-bot.db"
"""The file ``crm-bot demo`` writes in the folder it runs in."""


@pytest.fixture(scope="session")
def demo_made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder where ``crm-bot demo`` ran once (per test worker), as a newcomer runs it."""
    from tests.assistant.cli.test_cli import crm_bot

    folder = tmp_path_factory.mktemp("demo-made")
    made = crm_bot("demo", cwd=folder)
    assert made.returncode == 0, made.stderr
    return folder


@pytest.fixture
def demo_folder(demo_made: Path, tmp_path: Path) -> Path:
    """``tmp_path`` holding a copy of the demo store: what ``crm-bot demo`` leaves, without re-running it."""
    shutil.copy(demo_made / DEMO_DATABASE, tmp_path / DEMO_DATABASE)
    return tmp_path


@pytest.fixture(scope="session")
def refreshed(sample_store: Engine) -> tuple[Engine, RefreshSummary, RefreshSummary]:
    """The sample refreshed twice: as of 2011-09-30, then as of its last sale."""
    first = run_refresh(sample_store, RefreshParams(as_of=EARLIER))
    second = run_refresh(sample_store)
    return sample_store, first, second


@pytest.fixture
def store(refreshed: tuple[Engine, RefreshSummary, RefreshSummary]) -> Iterator[Engine]:
    """The shared refreshed sample; the digest subscriptions and alert rules a test makes (and
    what they posted) are removed after it."""
    yield refreshed[0]
    with Session(refreshed[0]) as session:
        for table in (AlertDelivery, AlertRule, DigestDelivery, DigestSubscription):
            session.execute(delete(table))
        session.commit()
