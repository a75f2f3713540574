"""Fixtures of the assistant tests: the demo sample refreshed (shared, read-only)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
from sqlalchemy import Engine, delete
from sqlalchemy.orm import Session

from assistant.jobs.refresh.inputs import RefreshParams
from assistant.jobs.refresh.run import RefreshSummary, run_refresh
from db.digest_models import AlertDelivery, AlertRule, DigestDelivery, DigestSubscription

EARLIER = datetime(2011, 9, 30, 23, 59)


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
