"""Fixtures of the assistant tests: the demo sample refreshed (shared, read-only)."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import Engine

from assistant.refresh import RefreshParams, RefreshSummary, run_refresh

EARLIER = datetime(2011, 9, 30, 23, 59)


@pytest.fixture(scope="session")
def refreshed(sample_store: Engine) -> tuple[Engine, RefreshSummary, RefreshSummary]:
    """The sample refreshed twice: as of 2011-09-30, then as of its last sale."""
    first = run_refresh(sample_store, RefreshParams(as_of=EARLIER))
    second = run_refresh(sample_store)
    return sample_store, first, second
