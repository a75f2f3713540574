"""Benchmark: a list export of 100,000 customers streamed to CSV, and the upload to Slack's fake.

    .venv/bin/python benchmarks/list_export.py                         # PostgreSQL, 100k customers
    .venv/bin/python benchmarks/list_export.py --customers 20000 --backend sqlite

Builds a synthetic store (``synthetic_store.py``: customers with contact details and orders) and
refreshes it, then, in a fresh process for each list, exports every customer of the at-risk list
and of the largest segment as a manager would (full details) and as a rep (masked but for their
own accounts), through the same code the Export CSV button runs, uploads the file to the fake
Slack, and prints rows, file size, wall time and the process's peak memory above what it held
before the export began.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ROOT = Path(__file__).resolve().parent.parent


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def one_export(url: str, kind: str, first: str, role: str) -> None:
    """In this process: export one list as ``role`` and upload it; print one JSON line of figures."""
    from sqlalchemy.orm import Session

    from assistant.jobs.exports import temporary_csv
    from assistant.slack.app import make_client
    from assistant.slack.fake import FakeSlack
    from assistant.views.list_exports import list_export
    from assistant.views.policy import Viewer
    from db.engine import make_engine

    engine = make_engine(url)
    with Session(engine) as session:  # warm: imports, connection, the first query plan
        next(list_export(session, Viewer("U0BENCH01", role, "im"), kind, first).rows, None)
    before = _peak_mb()
    started = time.perf_counter()
    with Session(engine) as session:
        listed = list_export(session, Viewer("U0BENCH01", role, "im"), kind, first)
        path, rows = temporary_csv(listed.columns, listed.rows)
    written = time.perf_counter() - started
    with FakeSlack() as fake:
        fake.add_user("U0BENCH01", "bench")
        client = make_client("xoxb-bench", fake.url)
        channel = client.conversations_open(users="U0BENCH01")["channel"]["id"]
        client.files_upload_v2(channel=channel, file=str(path), filename=listed.filename, title=listed.title)
    total = time.perf_counter() - started
    size = path.stat().st_size
    path.unlink()
    print(json.dumps({"list": listed.title, "role": role, "rows": rows, "mb": size / 1e6, "write_s": written,
                      "total_s": total, "peak_before_mb": before, "peak_mb": _peak_mb()}))


def _contact_details(url: str) -> None:
    """Every customer an e-mail and a phone (what masking works on); the rep owns one in ten."""
    from sqlalchemy import text

    from db.engine import make_engine

    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE customers SET email = 'c' || external_id || '@example.org', "
                                "phone = '+44 7700 ' || external_id, "
                                "owner = CASE WHEN id % 10 = 0 THEN 'U0BENCH01' END"))
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="postgresql")
    parser.add_argument("--one", nargs=4, metavar=("URL", "KIND", "FIRST", "ROLE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        one_export(*args.one)
        return
    from scratch import scratch_store

    with scratch_store(args.backend) as (url, _):
        made = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "synthetic_store.py"), "--database-url", url,
                               "--customers", str(args.customers), "--lines", str(args.customers * 8),
                               "--products", "2000", "--refresh"], cwd=ROOT, text=True, capture_output=True,
                              check=False)
        if made.returncode != 0:
            raise SystemExit(made.stdout + made.stderr)
        _contact_details(url)
        print(f"{args.backend}, {args.customers:,} customers (synthetic store, refreshed)")
        print(f"{'list':<44} {'as':<8} {'rows':>8} {'MB':>6} {'write s':>8} {'all s':>6} {'peak MB':>8} "
              f"{'+ export':>9}")
        for kind, first, role in (("atrisk", "", "manager"), ("atrisk", "", "rep"), ("segment", "Hibernating",
                                                                                     "manager")):
            out = subprocess.run([sys.executable, __file__, "--one", url, kind, first, role], cwd=ROOT, text=True,
                                 capture_output=True, check=False, env={**os.environ})
            if out.returncode != 0:
                raise SystemExit(out.stdout + out.stderr)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"{r['list'][:44]:<44} {r['role']:<8} {r['rows']:>8,} {r['mb']:>6.1f} {r['write_s']:>8.1f} "
                  f"{r['total_s']:>6.1f} {r['peak_mb']:>8.0f} {r['peak_mb'] - r['peak_before_mb']:>9.0f}")


if __name__ == "__main__":
    main()
