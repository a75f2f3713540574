"""An import killed with SIGKILL leaves whole batches only, and re-running it completes it."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
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
