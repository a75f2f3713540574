"""An import killed with SIGKILL leaves whole batches only, and re-running it completes it."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from db.importers import ImportOptions, import_file
from db.models import Customer, ImportRun, Order, OrderLine
from db.sample import ONLINE_RETAIL_SAMPLE

BATCH_ROWS = 2_000


def _committed_rows(engine: Engine) -> int:
    with Session(engine) as session:
        return int(session.scalar(select(func.max(ImportRun.rows_committed))) or 0)


def test_kill_9_mid_import_then_rerun_completes(engine: Engine, database_url: str, tmp_path: Path) -> None:
    crm_bot = shutil.which("crm-bot", path=str(Path(sys.executable).parent)) or "crm-bot"
    env = {**os.environ, "DATABASE_URL": database_url, "CRM_IMPORT_BATCH_ROWS": str(BATCH_ROWS),
           "CRM_REJECTS_DIR": str(tmp_path / "rejects")}
    process = subprocess.Popen([crm_bot, "import", "online-retail", str(ONLINE_RETAIL_SAMPLE)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while _committed_rows(engine) < 10 * BATCH_ROWS:
        assert process.poll() is None, f"import ended before it could be killed: {process.stderr.read()!r}"
        assert time.monotonic() < deadline, "import made no progress"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()

    committed = _committed_rows(engine)
    assert committed % BATCH_ROWS == 0 and committed < 96_115
    source = pd.read_csv(ONLINE_RETAIL_SAMPLE, dtype=str, keep_default_na=False).head(committed)
    with Session(engine) as session:
        run = session.scalar(select(ImportRun))
        assert run.status == "running"  # it never got to say it finished
        # Exactly the first `committed` rows are stored: no half batch, nothing beyond.
        assert session.scalar(select(func.count(OrderLine.id))) == committed
        assert session.scalar(select(func.count(Order.id))) == source["InvoiceNo"].nunique()
        assert session.scalar(select(func.count(Customer.id))) == source.loc[
            source["CustomerID"] != "", "CustomerID"].nunique()
        assert session.scalar(select(func.count(Order.id)).where(~Order.lines.any())) == 0

    report = import_file(engine, "online-retail", ONLINE_RETAIL_SAMPLE,
                         ImportOptions(batch_rows=BATCH_ROWS, reject_dir=tmp_path / "rejects"))
    assert report.status == "completed"
    assert report.already_stored == committed
    assert report.stored_new == 96_115 - committed
    with Session(engine) as session:
        assert session.scalar(select(func.count(OrderLine.id))) == 96_115


@pytest.mark.full_length  # ~15 s a backend; the default run proves the resume with a source that goes away
def test_kill_9_mid_sync_then_the_next_sync_resumes_from_its_last_batch(engine: Engine, database_url: str,
                                                                        tmp_path: Path) -> None:
    from db import locks, sync_states
    from db.engine import make_engine
    from db.importers.sql_source import SourceQuery, open_source
    from db.importers.sync import SyncOptions, sync_query
    from tests.shop_database import ORDERS_QUERY, STATUSES, ShopDatabase

    shop = ShopDatabase(make_engine(f"sqlite:///{tmp_path / 'shop.db'}"))
    shop.load_invoices(pd.read_csv(ONLINE_RETAIL_SAMPLE, dtype=str, keep_default_na=False))
    sources = tmp_path / "sources.toml"
    sources.write_text(shop.sources_toml(f"sqlite:///{tmp_path / 'shop.db'}", batch_rows=str(BATCH_ROWS)))
    crm_bot = shutil.which("crm-bot", path=str(Path(sys.executable).parent)) or "crm-bot"
    env = {**os.environ, "DATABASE_URL": database_url, "CRM_SOURCES_FILE": str(sources),
           "CRM_REJECTS_DIR": str(tmp_path / "rejects")}
    process = subprocess.Popen([crm_bot, "sync"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def synced_lines() -> int:
        state = sync_states.get(engine, "shop", "orders")
        return state.rows_total if state else 0

    deadline = time.monotonic() + 120
    while synced_lines() < 10 * BATCH_ROWS:
        assert process.poll() is None, f"sync ended before it could be killed: {process.stderr.read()!r}"
        assert time.monotonic() < deadline, "sync made no progress"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()

    committed = synced_lines()
    assert committed % BATCH_ROWS == 0 and committed < 96_115
    with Session(engine) as session:
        assert session.scalar(select(func.count(OrderLine.id))) == committed  # whole batches only
    with pytest.raises(locks.LockHeld):  # the killed sync's lease still runs: no second sync meanwhile
        locks.acquire(engine, "sync", "another:1", datetime.now(UTC).replace(tzinfo=None), timedelta(minutes=1))

    source = open_source(f"sqlite:///{tmp_path / 'shop.db'}", 60, "UTC")
    query = SourceQuery("shop", "orders", ORDERS_QUERY, "updated_at", "order_id")
    report = sync_query(engine, source, query, SyncOptions(batch_rows=BATCH_ROWS, statuses=STATUSES,
                                                           reject_dir=tmp_path / "rejects"))
    source.dispose()
    assert report.stored_new == 96_115 - committed  # resumed from the last batch, nothing doubled
    with Session(engine) as session:
        assert session.scalar(select(func.count(OrderLine.id))) == 96_115
    assert sync_states.get(engine, "shop", "customers").first_sync_done  # type: ignore[union-attr]
