"""Benchmark: ack and full-reply latency of `/customer` over HTTP, with concurrent users.

    DATABASE_URL=sqlite:///retail.db python benchmarks/slack_latency.py [--users 20] [--requests 25]

Runs the real Bolt app on waitress and the local fake Slack on loopback.  Each simulated user
sends signed `/customer ID` requests for random scored customers of the latest run: the ack is
the HTTP round trip of the command; the reply is from sending until the card arrives at its
response_url.  Prints p50/p95/p99 of both and the process's peak memory.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assistant.commands.base import Context  # noqa: E402
from assistant.slack.app import build_app, make_client  # noqa: E402
from assistant.slack.fake import FakeSlack  # noqa: E402
from assistant.slack.server import start_in_background  # noqa: E402
from db import snapshots  # noqa: E402
from db.engine import make_engine  # noqa: E402
from db.models import Customer  # noqa: E402
from db.snapshot_models import CustomerScore  # noqa: E402

SECRET = "benchmark-secret"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--requests", type=int, default=25, help="per user")
    args = parser.parse_args()
    engine = make_engine(os.environ.get("DATABASE_URL", "sqlite:///crm-bot.db"), pool_size=args.users + 5)
    with Session(engine) as session:
        run = snapshots.latest_run(session)
        if run is None:
            sys.exit("no analytics run in this store: run `crm-bot refresh` first")
        ids = list(session.scalars(select(Customer.external_id).join(CustomerScore, CustomerScore.customer_id ==
                                                                     Customer.id).where(CustomerScore.run_id == run.id)
                                   .limit(50_000)))
    acks: list[float] = []
    replies: list[float] = []
    failures = 0
    lock = threading.Lock()
    with FakeSlack() as fake:
        context = Context(session_factory=sessionmaker(engine), clock=datetime.now)
        server = start_in_background(build_app(context, make_client("xoxb-bench", fake.url), SECRET))

        def user(seed: int) -> None:
            nonlocal failures
            rng = random.Random(seed)
            for _ in range(args.requests):
                url = fake.new_response_url()
                key = url.rsplit("/", 1)[1]
                started = time.perf_counter()
                status, _ = fake.send_command(server.url, SECRET, "/customer", rng.choice(ids), response_url=url)
                acked = time.perf_counter()
                try:
                    fake.wait_for(lambda calls, key=key: any(c.params.get("response_url") == key for c in calls), 30)
                except TimeoutError:
                    with lock:
                        failures += 1
                    continue
                done = time.perf_counter()
                with lock:
                    if status != 200:
                        failures += 1
                    acks.append(acked - started)
                    replies.append(done - started)

        warm = fake.send_command(server.url, SECRET, "/customer", ids[0])  # first request pays imports
        assert warm[0] == 200
        threads = [threading.Thread(target=user, args=(i,)) for i in range(args.users)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - started
        server.stop()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"store: {engine.url.render_as_string(hide_password=True)}; run {run.id}; {len(ids):,} customers sampled")
    print(f"{args.users} users x {args.requests} /customer requests: {len(replies)} answered, {failures} failed, "
          f"{wall:.1f} s ({len(replies) / wall:.1f} replies/s)")
    for name, values in (("ack", acks), ("reply", replies)):
        print(f"{name:5}  p50 {percentile(values, 50) * 1000:6.0f} ms  p95 {percentile(values, 95) * 1000:6.0f} ms  "
              f"p99 {percentile(values, 99) * 1000:6.0f} ms  max {max(values) * 1000:6.0f} ms")
    print(f"peak memory of this process (bot + fake + load): {peak:.0f} MB")


if __name__ == "__main__":
    main()
