"""Benchmark: ack and full-reply latency of `/customer` over HTTP, with concurrent users; or, with
``--form``, how soon a form opens after a click on the card's Add note button.

    DATABASE_URL=sqlite:///retail.db python benchmarks/slack_latency.py [--users 20] [--requests 25]
    DATABASE_URL=sqlite:///retail.db python benchmarks/slack_latency.py --form    # views.open after the click

Runs `crm-bot serve` (HTTP mode, waitress) as its own process, pointed at the local fake Slack
that runs here with the load generator, as a workspace would be: two processes on loopback.
Each simulated user sends signed `/customer ID` requests for random scored customers of the
latest run: the ack is the HTTP round trip of the command; the reply is from sending until the
card arrives at its response_url.  Prints p50/p95/p99 of both and the bot's peak memory.  With
``--form`` the reply is the bot's ``views.open`` call for that person (Slack allows 3 s from the
click to open a form with its trigger); the simulated users are admins (``CRM_ADMINS``), who may
write about anyone.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sampling import percentile, scored_customers

from assistant.slack.fake import FakeSlack
from db.engine import make_engine

SECRET = "benchmark-secret"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_until_up(fake: FakeSlack, url: str) -> None:
    for _ in range(300):
        try:
            if fake.send_command(url, SECRET, "/crm", "help")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    sys.exit("the bot did not start")


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--requests", type=int, default=25, help="per user")
    parser.add_argument("--think-ms", type=float, default=0.0,
                        help="mean pause of each user between requests (exponential); 0 = back to back")
    parser.add_argument("--form", action="store_true",
                        help="click Add note on a card instead of /customer; measure until views.open")
    parser.add_argument("--replicas", type=int, default=1,
                        help="bot processes, each on its own port; requests spread across them as a load "
                             "balancer would")
    args = parser.parse_args()
    engine = make_engine(os.environ.get("DATABASE_URL", "sqlite:///crm-bot.db"), pool_size=args.users + 5)
    run_id, ids = scored_customers(engine, 50_000)
    with FakeSlack() as fake:
        bots, urls = [], []
        for _ in range(args.replicas):
            port = _free_port()
            env = {**os.environ, "SLACK_BOT_TOKEN": "xoxb-bench", "SLACK_SIGNING_SECRET": SECRET,
                   "SLACK_API_URL": fake.url, "CRM_HTTP_PORT": str(port), "CRM_HEALTH_PORT": "0",
                   "CRM_ADMINS": ",".join(_user(i) for i in range(args.users))}
            env.pop("SLACK_APP_TOKEN", None)
            bots.append(subprocess.Popen([str(Path(sys.executable).parent / "crm-bot"), "serve"], env=env,
                                         stderr=subprocess.DEVNULL))
            urls.append(f"http://127.0.0.1:{port}/slack/events")
        for url in urls:
            _wait_until_up(fake, url)
        load = Load()
        threads = [threading.Thread(target=load.user, args=(fake, urls, ids, args, i)) for i in range(args.users)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - started
        peaks = [_peak_rss_mb(bot.pid) for bot in bots]
        for bot in bots:
            bot.send_signal(signal.SIGTERM)
            bot.wait(timeout=60)
    _report(engine.url.render_as_string(hide_password=True), run_id, len(ids), args, load, wall, peaks)


def _user(seed: int) -> str:
    return f"U0LOAD{seed:04d}"  # each simulated user is a person


class Load:
    """What the simulated users measured."""

    def __init__(self) -> None:
        self.acks: list[float] = []
        self.replies: list[float] = []
        self.failures = 0
        self.errors: dict[str, int] = {}
        self.lock = threading.Lock()

    def fail(self, why: str) -> None:
        with self.lock:
            self.failures += 1
            self.errors[why] = self.errors.get(why, 0) + 1

    def user(self, fake: FakeSlack, bot_urls: list[str], ids: list[str], args: argparse.Namespace,
             seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(args.requests):
            bot_url = rng.choice(bot_urls)
            if args.think_ms:
                time.sleep(rng.expovariate(1000.0 / args.think_ms))
            reply_url = fake.new_response_url()
            key = reply_url.rsplit("/", 1)[1]
            user = _user(seed)
            opened = len(fake.opened_views(user))
            started = time.perf_counter()
            try:
                if args.form:
                    status, _ = fake.click(bot_url, SECRET, "customer.add_note", rng.choice(ids), user_id=user)
                else:
                    status, _ = fake.send_command(bot_url, SECRET, "/customer", rng.choice(ids),
                                                  response_url=reply_url, user_id=user)
            except OSError as exc:
                self.fail(type(exc).__name__)
                continue
            acked = time.perf_counter()
            try:
                if args.form:
                    fake.wait_for(lambda _, user=user, opened=opened: len(fake.opened_views(user)) > opened, 30)
                else:
                    fake.wait_for(lambda calls, key=key: any(c.params.get("response_url") == key for c in calls),
                                  30)
            except TimeoutError:
                self.fail("no form" if args.form else "no reply")
                continue
            if status != 200:
                self.fail(f"HTTP {status}")
                continue
            with self.lock:
                self.acks.append(acked - started)
                self.replies.append(time.perf_counter() - started)


def _report(store: str, run_id: int, sampled: int, args: argparse.Namespace, load: Load, wall: float,
            peaks: list[float]) -> None:
    acks, replies, errors = load.acks, load.replies, load.errors
    print(f"store: {store}; run {run_id}; {sampled:,} customers sampled")
    pause = f" (mean pause {args.think_ms:.0f} ms)" if args.think_ms else " (back to back)"
    what = "Add note clicks" if args.form else "/customer requests"
    print(f"{args.users} users x {args.requests} {what}{pause}, {args.replicas} bot process(es): "
          f"{len(replies)} answered, "
          f"{load.failures} failed, {wall:.1f} s ({len(replies) / wall:.1f} replies/s)"
          + (f"; errors: {errors}" if errors else ""))
    for name, values in (("ack", acks), ("form" if args.form else "reply", replies)):
        print(f"{name:5}  p50 {percentile(values, 50) * 1000:6.0f} ms  p95 {percentile(values, 95) * 1000:6.0f} ms  "
              f"p99 {percentile(values, 99) * 1000:6.0f} ms  max {max(values) * 1000:6.0f} ms")
    print("bot process peak memory (VmHWM): " + ", ".join(f"{peak:.0f} MB" for peak in peaks))


if __name__ == "__main__":
    main()
