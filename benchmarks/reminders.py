"""Benchmark: a thousand follow-up reminders due in the same minute, delivered by racing schedulers.

    .venv/bin/python benchmarks/reminders.py                          # SQLite and PostgreSQL, 1,000 x 2
    .venv/bin/python benchmarks/reminders.py --backend postgresql --reminders 5000 --schedulers 3

On the demo sample (imported and refreshed, so each reminder carries a real customer line), each
of ``--owners`` Slack users gets an equal share of the reminders on random customers, all due one
minute ago.  ``--schedulers`` ReminderSenders (each with its own Slack client and the product's
default pacing: one message a second per conversation) run at once against the fake Slack over
HTTP.  Prints the wall time until every reminder is recorded sent, the delay after the due time
(p50 / p99), messages per reminder (must be exactly 1) and what each scheduler did.
"""

from __future__ import annotations

import argparse
import random
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sampling import percentile
from scratch import scratch_store
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from assistant.jobs.refresh.run import run_refresh
from assistant.jobs.reminders import ReminderReport, ReminderSender
from assistant.slack.app import make_client
from assistant.slack.fake import FakeSlack
from assistant.slack.poster import SlackPoster
from db import follow_ups, migrate
from db.engine import make_engine
from db.importers import ImportOptions, import_file
from db.models import Customer
from db.sample import ONLINE_RETAIL_SAMPLE
from db.work_models import FollowUp


def _seed(url: str, workdir: Path, reminders: int, owners: list[str], due: datetime) -> None:
    engine = make_engine(url)
    migrate.upgrade(engine)
    import_file(engine, "online-retail", ONLINE_RETAIL_SAMPLE, ImportOptions(reject_dir=workdir))
    run_refresh(engine)
    rng = random.Random(7)
    with Session(engine) as session:
        customers = list(session.scalars(select(Customer)))
        for i in range(reminders):
            owner = owners[i % len(owners)]
            follow_ups.add(session, rng.choice(customers), owner, owner, due, "Europe/London", f"call back ({i})",
                           due - timedelta(days=1), f"bench:{i}")
        session.commit()
    engine.dispose()


def run(backend: str, reminders: int, owner_count: int, schedulers: int) -> None:
    with scratch_store(backend) as (url, workdir), FakeSlack() as fake:
        owners = [f"U0BENCH{i:04d}" for i in range(owner_count)]
        for owner in owners:
            fake.add_user(owner, owner.lower())
        due = datetime.now(UTC).replace(tzinfo=None, second=0, microsecond=0) - timedelta(minutes=1)
        _seed(url, workdir, reminders, owners, due)
        engine = make_engine(url)
        senders = [ReminderSender(sessionmaker(engine), SlackPoster(make_client("xoxb-bench", fake.url)),
                                  worker=f"scheduler-{i}") for i in range(schedulers)]
        reports: list[ReminderReport] = []
        started, started_at = time.perf_counter(), datetime.now(UTC).replace(tzinfo=None)
        threads = [threading.Thread(target=lambda s=s: reports.append(s.run())) for s in senders]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - started
        with Session(engine) as session:
            rows = list(session.scalars(select(FollowUp)))
        delays = sorted((r.sent_at - started_at).total_seconds() for r in rows if r.sent_at is not None)
        tokens = Counter(m["metadata"]["event_payload"]["token"] for owner in owners
                         for m in fake.messages_in(owner) if (m.get("metadata") or {}).get("event_type")
                         == "crm_follow_up")
        engine.dispose()
        print(f"\n{backend}: {reminders:,} reminders for {owner_count} owners, {schedulers} schedulers racing")
        print(f"  wall until all recorded sent   {wall:6.1f} s  ({reminders / wall:,.0f} a second)")
        print(f"  sent after the run started     p50 {percentile(delays, 50):5.1f} s   "
              f"p99 {percentile(delays, 99):5.1f} s")
        print(f"  messages per reminder          {set(tokens.values())} (reminders with a message: {len(tokens):,})")
        print(f"  reminder states                {dict(Counter(r.reminder for r in rows))}")
        for i, report in enumerate(reports):
            print(f"  scheduler {i}: {report.summary()}, {len(report.lost)} left to the other")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--reminders", type=int, default=1000)
    parser.add_argument("--owners", type=int, default=100)
    parser.add_argument("--schedulers", type=int, default=2)
    args = parser.parse_args()
    for backend in (("sqlite", "postgresql") if args.backend == "both" else (args.backend,)):
        run(backend, args.reminders, args.owners, args.schedulers)


if __name__ == "__main__":
    main()
