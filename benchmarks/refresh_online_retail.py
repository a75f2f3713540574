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
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
DATASETS = Path(os.environ.get("CRM_DATASETS_DIR", ROOT.parent / "shared" / "data"))
POSTGRES_URL = os.environ.get("CRM_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
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
    workdir = Path(tempfile.mkdtemp(prefix="crm-bench-"))
    admin, name = None, ""
    if backend == "sqlite":
        url = f"sqlite:///{workdir / 'bench.db'}"
    else:
        admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
        name = f"crm_bench_{uuid.uuid4().hex[:8]}"
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    try:
        _run(url, "import", "online-retail", str(path))
        seconds, peak = _run(url, "refresh")
        engine = create_engine(url)
        with engine.connect() as connection:
            timings = connection.execute(text("SELECT results FROM analytics_runs ORDER BY id DESC LIMIT 1")).scalar()
        engine.dispose()
        steps = json.loads(timings)["timings"] if isinstance(timings, str) else timings["timings"]
        print(f"| {backend} | {seconds:.1f} s | {peak:.0f} MB | "
              + ", ".join(f"{k} {v:.1f}" for k, v in steps.items()) + " |", flush=True)
    finally:
        if admin is not None:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        shutil.rmtree(workdir, ignore_errors=True)


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
