"""Benchmark: building the digest (SQL aggregates + snapshots, no model work) on a real store.

    DATABASE_URL=sqlite:///retail.db python benchmarks/digest_build.py
    DATABASE_URL=postgresql://postgres@127.0.0.1/crm_synth python benchmarks/digest_build.py

Times the weekly digest, the daily one and a segment digest (each: build, render, chart), prints
what the weekly one says, and the process's peak memory.
"""

from __future__ import annotations

import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy.orm import Session

from assistant.render.chart import trend_chart
from assistant.render.digest import digest_message
from assistant.views.digest import build_digest
from db.engine import make_engine


def main() -> None:
    url = os.environ.get("DATABASE_URL")
    if not url:
        sys.exit("set DATABASE_URL to a store with at least one refresh")
    engine = make_engine(url)
    print(f"store: {engine.url.render_as_string(hide_password=True)}")
    for cadence, segment in (("weekly", None), ("daily", None), ("weekly", "Champions")):
        with Session(engine) as session:
            started = time.perf_counter()
            digest = build_digest(session, cadence, segment)
            built = time.perf_counter() - started
            message = digest_message(digest, disclose_people=False)
            png = trend_chart(digest)
            total = time.perf_counter() - started
        label = f"{cadence}{' / ' + segment if segment else ''}"
        print(f"{label:<18} build {built:6.2f} s   with message and chart {total:6.2f} s   "
              f"{len(message.blocks)} blocks, chart {len(png) / 1024:.0f} KiB")
        if cadence == "weekly" and segment is None:
            print("  " + message.text)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (RSS): {peak:.0f} MB")


if __name__ == "__main__":
    main()
