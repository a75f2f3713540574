"""``crm-bot sync`` as a job: every source of the file, one down, and what the rest of the product says
about it (doctor, /readyz, /metrics, the digest's data-quality line)."""

from __future__ import annotations

import json
import os
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from assistant.jobs.sync import SyncBusy, run_sync, sources_of
from assistant.ops.doctor import source_checks
from assistant.ops.probes import Probes, start_probes
from assistant.ops.settings import load_settings
from assistant.views.digest import build_digest
from db import locks, sync_states
from db.engine import make_engine
from tests.shop_database import Item, ShopDatabase

T0 = datetime(2024, 3, 1, 9, 0)
DOWN = "postgresql://crm@127.0.0.1:1/nowhere"  # nothing listens on port 1: refused at once


@pytest.fixture
def sources_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shop = ShopDatabase(make_engine(f"sqlite:///{tmp_path / 'shop.db'}"))
    shop.add_customer(1, "ana@example.com", "Ana", "Portugal", T0)
    for n in range(4):
        shop.add_order(f"W{n}", 1, T0 + timedelta(weeks=n), [Item("MUG", "Blue mug", 1, "4.50")],
                       T0 + timedelta(weeks=n))
    shop.engine.dispose()
    text = shop.sources_toml("env:SHOP_URL") + shop.sources_toml("env:ERP_URL").replace("[sources.shop]",
                                                                                          "[sources.erp]")
    path = tmp_path / "sources.toml"
    path.write_text(text, encoding="utf-8")
    monkeypatch.setenv("SHOP_URL", f"sqlite:///{tmp_path / 'shop.db'}")
    monkeypatch.setenv("ERP_URL", DOWN)
    return path


def test_a_source_that_is_down_fails_alone_and_every_part_of_the_product_says_so(
        engine: Engine, sources_file: Path, tmp_path: Path) -> None:
    sources = sources_of(sources_file)
    outcome = run_sync(engine, sources, timezone="UTC", reject_dir=tmp_path / "rejects")
    assert [(p.source, p.part, p.error is None) for p in outcome.parts] == [
        ("shop", "customers", True), ("shop", "orders", True), ("erp", "customers", False), ("erp", "orders", False)]
    assert outcome.brought_data
    assert "source 'erp' cannot be reached" in (outcome.failed[0].error or "")
    with Session(engine) as session:
        assert [(s.source, s.part) for s in sync_states.failing(session)] == [("erp", "customers"), ("erp", "orders")]
        quality = build_digest(session, now=T0 + timedelta(weeks=4)).quality
    assert any(line.startswith("Source erp (customers) has failed to sync since") for line in quality)

    settings = load_settings(database_url=str(engine.url.render_as_string(hide_password=False)),
                             sources_file=sources_file)
    checks = {c.name: c for c in source_checks(settings, engine, T0 + timedelta(days=5))}
    assert checks["Source shop"].ok is True and "env:SHOP_URL answers" in checks["Source shop"].detail
    assert checks["Source erp"].ok is False and "cannot be reached" in checks["Source erp"].detail
    assert checks["Source erp"].fix.startswith("check the source's URL (env:ERP_URL)")

    server = start_probes(Probes(engine), 0, host="127.0.0.1")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.effective_port}/readyz", timeout=10) as response:
            ready = json.loads(response.read())
            assert response.status == 200  # the bot still answers from the store
        with urllib.request.urlopen(f"http://127.0.0.1:{server.effective_port}/metrics", timeout=10) as response:
            metrics = response.read().decode()
    finally:
        server.close()
    assert ready["sources"]["shop.orders"] == "ok" and ready["sources"]["erp.orders"].startswith("failing since")
    assert 'crm_sync_rows_total{part="orders",source="shop"} 4.0' in metrics
    assert 'crm_sync_failures_total{part="orders",source="erp"} 1.0' in metrics

    again = run_sync(engine, sources, timezone="UTC", reject_dir=tmp_path / "rejects")
    assert not again.brought_data  # the shop's rows within the overlap are read again, stored once
    with Session(engine) as session:
        erp = sync_states.failing(session)[0]
    assert erp.failures_total == 2 and erp.failing_since is not None and erp.failing_since < erp.failed_at  # type: ignore[operator]


def test_two_syncs_never_run_at_once(engine: Engine, sources_file: Path, tmp_path: Path) -> None:
    locks.acquire(engine, "sync", "worker-2:99", datetime.now(), timedelta(minutes=15))
    with pytest.raises(SyncBusy, match="a sync is already running on worker-2:99"):
        run_sync(engine, sources_of(sources_file), timezone="UTC", reject_dir=tmp_path)


def test_the_scheduled_sync_refreshes_only_when_the_store_changed(engine: Engine, sources_file: Path,
                                                                  tmp_path: Path) -> None:
    from assistant.cli.deps import Deps, cron_jobs
    from assistant.jobs.scheduler import run_cron_job
    from db import snapshots

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    settings = load_settings(database_url=engine.url.render_as_string(hide_password=False), sources_file=sources_file,
                             inbox_dir=inbox, sync_schedule="*/15 * * * *", rejects_dir=tmp_path / "rejects")
    [job] = cron_jobs(Deps(settings=settings, engine=engine))
    assert (job.name, job.crontab) == ("sync", "*/15 * * * *")

    def runs() -> int:
        with Session(engine) as session:
            latest = snapshots.latest_run(session)
            return latest.id if latest else 0

    run_cron_job(job)  # new orders: synced, then refreshed
    first = runs()
    assert first > 0
    run_cron_job(job)  # nothing new (the overlap's rows are read again, stored once): no refresh
    assert runs() == first
    (inbox / "more.csv").write_text("order_id,customer_id,date,sku,quantity,unit_price\n"
                                    "X1,1,2024-03-30 10:00,MUG,1,4.50\n", encoding="utf-8")
    os.utime(inbox / "more.csv", (0, 0))
    run_cron_job(job)  # a file in the inbox: imported, then refreshed
    assert runs() > first and (inbox / "done" / "more.csv").exists()
