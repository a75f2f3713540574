"""Soak test of exactly-once digests: several `crm-bot scheduler` processes on PostgreSQL against
the fake Slack, with random faults and kill -9 of a random scheduler, round after round.

Each round is one simulated period: ``--channels`` new channels, each subscribed to a daily digest
that is due now.  Before the round every channel gets a random fault on its first post or chart
upload (429 with a random Retry-After up to 2x the lease, a reply held up to 2x the lease after
Slack stored the message, a connection dropped after Slack acted, or dropped before it did, or
none); every ``--kill-every`` seconds one scheduler is killed with SIGKILL and started again.
A round ends when every channel's digest and chart are recorded (or ``--round-timeout``).  At the
end: digests per channel (duplicates and missing), charts per channel, faults injected and met.

    .venv/bin/python benchmarks/digest_soak.py                     # 3 schedulers, 200 channels, 20 min
    .venv/bin/python benchmarks/digest_soak.py --minutes 3 --channels 50
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from scratch import scratch_store  # benchmarks/ is on the path when run as a script
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from assistant.jobs.refresh.run import run_refresh
from assistant.slack.fake import BOT_USER, FakeSlack, Fault
from db import digests, migrate
from db.digest_models import DigestDelivery
from db.engine import make_engine
from db.importers import ImportOptions, import_file
from db.sample import ONLINE_RETAIL_SAMPLE

ROOT = Path(__file__).resolve().parent.parent
FAULTS = ("429 long Retry-After", "reply held", "dropped after acting", "dropped before acting", "none")


def _inject(fake: FakeSlack, channel: str, lease: float, rng: random.Random, injected: collections.Counter[str]
            ) -> None:
    kind = rng.choice(FAULTS)
    method = rng.choice(("chat.postMessage", "chat.postMessage", "files.completeUploadExternal"))
    injected[f"{kind} ({method})" if kind != "none" else kind] += 1
    if kind == "429 long Retry-After":
        fake.add_fault(Fault(method, "error", channel, times=rng.randint(1, 3), status=429, error="ratelimited",
                             retry_after=rng.uniform(1, 2 * lease)))
    elif kind == "reply held":
        fake.add_fault(Fault(method, "hold", channel, seconds=rng.uniform(0.5, 2 * lease)))
    elif kind == "dropped after acting":
        fake.add_fault(Fault(method, "drop", channel))
    elif kind == "dropped before acting":
        fake.add_fault(Fault(method, "drop", channel, act_first=False))


def _subscribe_round(engine_url: str, fake: FakeSlack, round_no: int, channels: int) -> list[str]:
    engine = make_engine(engine_url)
    now = datetime.now(UTC)
    due = now - timedelta(minutes=1)
    names = [f"C{round_no:03d}{i:05d}" for i in range(channels)]
    with Session(engine) as session:
        for channel in names:
            fake.add_channel(channel, channel.lower(), members={BOT_USER})
            digests.subscribe(session, channel_id=channel, cadence="daily", weekday=0, hour=due.hour,
                              minute=due.minute, timezone="UTC", segment=None, quiet="short", user_id="U0ADMIN01",
                              now=(now - timedelta(days=1)).replace(tzinfo=None), notify_user="U0ADMIN01")
    engine.dispose()
    return names


def _complete(engine_url: str, names: list[str]) -> int:
    engine = make_engine(engine_url)
    with Session(engine) as session:
        done = session.scalar(select(func.count()).select_from(DigestDelivery).where(
            DigestDelivery.channel_id.in_(names), DigestDelivery.status == "posted",
            DigestDelivery.chart_file_id.is_not(None), ~DigestDelivery.chart_file_id.like("claimed:%")))
    engine.dispose()
    return int(done or 0)


def _scheduler(engine_url: str, fake: FakeSlack, lease: int, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATABASE_URL": engine_url, "SLACK_BOT_TOKEN": "xoxb-soak", "SLACK_API_URL": fake.url,
           "CRM_DIGEST_LEASE_SECONDS": str(lease), "CRM_SCHEDULER_TICK_SECONDS": "1", "CRM_HEALTH_PORT": "0",
           "CRM_LOG_LEVEL": "WARNING"}
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, str(ROOT / "bot.py"), "scheduler"], env=env, cwd=ROOT,
                                stdout=out, stderr=subprocess.STDOUT)


def _report(args: argparse.Namespace, fake: FakeSlack, channels_all: list[str], rounds: int, kills: int,
            seconds: float, injected: collections.Counter[str], log: Path) -> None:
    digest_counts = [sum(1 for m in fake.messages_in(c) if (m.get("metadata") or {}).get("event_type")
                         == "crm_digest") for c in channels_all]
    chart_counts = [sum(len(m.get("files") or []) for m in fake.messages_in(c)) for c in channels_all]
    met = collections.Counter(c.method.removesuffix(".failed") for c in fake.calls if c.method.endswith(".failed"))
    tracebacks = log.read_text(errors="replace").count("Traceback")
    print(f"\n{args.schedulers} schedulers on PostgreSQL, lease {args.lease} s, {rounds} rounds x "
          f"{args.channels} channels = {len(channels_all)} digests owed, {kills} schedulers killed (SIGKILL), "
          f"{seconds / 60:.1f} min")
    print(f"digests: duplicates {sum(max(0, n - 1) for n in digest_counts)}, "
          f"missing {sum(1 for n in digest_counts if n == 0)}")
    print(f"charts:  duplicates {sum(max(0, n - 1) for n in chart_counts)}, "
          f"missing {sum(1 for n in chart_counts if n == 0)}")
    print("faults injected (one per channel): " + ", ".join(f"{k} {v}" for k, v in sorted(injected.items())))
    print("429s answered, by method: " + ", ".join(f"{k} {v}" for k, v in sorted(met.items())))
    print(f"tracebacks in the schedulers' output: {tracebacks}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=20)
    parser.add_argument("--schedulers", type=int, default=3)
    parser.add_argument("--channels", type=int, default=200)
    parser.add_argument("--lease", type=int, default=6, help="CRM_DIGEST_LEASE_SECONDS of the schedulers")
    parser.add_argument("--kill-every", type=float, default=20)
    parser.add_argument("--round-timeout", type=float, default=240)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    injected: collections.Counter[str] = collections.Counter()
    with scratch_store("postgresql") as (url, workdir), FakeSlack() as fake:
        engine = make_engine(url)
        migrate.upgrade(engine)
        import_file(engine, "online-retail", ONLINE_RETAIL_SAMPLE, ImportOptions(reject_dir=workdir))
        run_refresh(engine)
        engine.dispose()
        log = workdir / "schedulers.log"
        running = [_scheduler(url, fake, args.lease, log) for _ in range(args.schedulers)]
        kills, rounds, channels_all = 0, 0, []
        started = time.monotonic()
        next_kill = started + args.kill_every
        try:
            while time.monotonic() - started < args.minutes * 60:
                rounds += 1
                names = _subscribe_round(url, fake, rounds, args.channels)
                for channel in names:
                    _inject(fake, channel, args.lease, rng, injected)
                channels_all += names
                round_start = time.monotonic()
                while _complete(url, names) < len(names) and time.monotonic() - round_start < args.round_timeout:
                    if time.monotonic() >= next_kill:
                        victim = rng.randrange(len(running))
                        running[victim].send_signal(signal.SIGKILL)
                        running[victim].wait()
                        running[victim] = _scheduler(url, fake, args.lease, log)
                        kills += 1
                        next_kill += args.kill_every
                    time.sleep(0.5)
                print(f"round {rounds}: {_complete(url, names)}/{len(names)} delivered with chart in "
                      f"{time.monotonic() - round_start:.0f} s ({kills} kills so far)", flush=True)
        finally:
            for process in running:
                process.send_signal(signal.SIGTERM)
            for process in running:
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
        _report(args, fake, channels_all, rounds, kills, time.monotonic() - started, injected, log)

if __name__ == "__main__":
    main()
