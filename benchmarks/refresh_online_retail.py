"""Benchmark: `crm-bot refresh` on the full Online Retail store (SQLite and PostgreSQL).

The store is loaded first (not timed), then the refresh runs as its own process; wall time,
peak memory and the per-step timings recorded on the run are printed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from scratch import scratch_store
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
DATASETS = Path(os.environ.get("CRM_DATASETS_DIR", ROOT.parent / "shared" / "data"))
CRM_BOT = shutil.which("crm-bot", path=str(Path(sys.executable).parent)) or "crm-bot"


def _run(url: str, *args: str) -> tuple[float, float]:
    started = time.perf_counter()
    process = subprocess.Popen([CRM_BOT, *args], env={**os.environ, "DATABASE_URL": url, "COLUMNS": "160"},
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"crm-bot {' '.join(args)} failed: {process.stderr.read().decode() if process.stderr else ''}")
    return time.perf_counter() - started, usage.ru_maxrss / 1024


def bench(backend: str, path: Path) -> None:
    with scratch_store(backend) as (url, _workdir):
        _run(url, "import", "online-retail", str(path))
        seconds, peak = _run(url, "refresh")
        engine = create_engine(url)
        with engine.connect() as connection:
            results = connection.execute(text("SELECT results FROM analytics_runs ORDER BY id DESC LIMIT 1")).scalar()
        engine.dispose()
        steps = (json.loads(results) if isinstance(results, str) else results)["timings"]
        print(f"| {backend} | {seconds:.1f} s | {peak:.0f} MB | "
              + ", ".join(f"{k} {v:.1f}" for k, v in steps.items()) + " |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--file", type=Path, default=DATASETS / "online-retail" / "online_retail.csv.gz")
    args = parser.parse_args()
    print("| store | refresh wall (process) | peak memory | steps (s) |")
    print("|---|---:|---:|---|")
    for backend in ("sqlite", "postgresql") if args.backend == "both" else (args.backend,):
        bench(backend, args.file)


if __name__ == "__main__":
    main()
