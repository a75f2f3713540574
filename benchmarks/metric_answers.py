"""How long questions about numbers take to answer on a store: reading plus the aggregate SQL.

    DATABASE_URL=postgresql://postgres@127.0.0.1/crm_synth .venv/bin/python benchmarks/metric_answers.py
    .venv/bin/python benchmarks/metric_answers.py --online-retail   # the full file, in a scratch PostgreSQL database

Each question (one per metric, dimension and period form) is answered ``--repeat`` times through
``views.metrics.answer`` after the reader; prints p50/p95 per question and over all.  Target:
< 300 ms p95 on the 1M-customer PostgreSQL store of benchmarks/synthetic_store.py.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from assistant.commands.understanding.reader import read
from assistant.commands.understanding.vocabulary import load
from assistant.jobs.refresh.run import run_refresh
from assistant.views.metrics import answer
from db import migrate
from db.engine import make_engine
from db.importers import ImportOptions, import_file

QUESTIONS = [
    "revenue last month", "orders this quarter", "active customers in november", "new customers last month",
    "how many customers do we have in France", "average order value of our champions", "units sold this year",
    "return rate by country", "average churn risk by segment", "expected value by country",
    "share of revenue by segment", "revenue last month by country", "top 10 products in november",
    "top 10 customers", "revenue by month", "which country grew most this quarter",
    "revenue this month vs the same month last year", "revenue in the last 30 days", "sales since march",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--online-retail", action="store_true",
                        help="load the full Online Retail file into a scratch PostgreSQL database first")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    if args.online_retail:
        admin_url = os.environ.get("CRM_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
        name = f"crm_bench_metrics_{uuid.uuid4().hex[:8]}"
        admin = create_engine(admin_url.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        url = admin_url.rsplit("/", 1)[0] + f"/{name}"
        try:
            engine = make_engine(url)
            migrate.upgrade(engine)
            data = Path(os.environ.get("CRM_DATASETS_DIR", Path(__file__).resolve().parents[2] / "shared" / "data"))
            with tempfile.TemporaryDirectory() as folder:
                import_file(engine, "online-retail", data / "online-retail" / "online_retail.csv.gz",
                            ImportOptions(reject_dir=Path(folder)))
            run_refresh(engine)
            measure(engine, args.repeat)
            engine.dispose()
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        return
    measure(make_engine(os.environ["DATABASE_URL"]), args.repeat)


def measure(engine: object, repeat: int) -> None:
    """Answer every question ``repeat`` times and print the times."""
    with Session(engine) as session:  # type: ignore[call-overload]
        vocabulary = load(session)
        customers = session.execute(text("SELECT count(*) FROM customers")).scalar()
    print(f"store: {customers:,} customers; {repeat} answers per question")
    everything = []
    for question in QUESTIONS:
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            understood = read(question, vocabulary)
            if understood.question is None:
                raise SystemExit(f"not read as a question about numbers: {question!r}")
            with Session(engine) as session:  # type: ignore[call-overload]
                answer(session, understood.question)
            times.append((time.perf_counter() - started) * 1000)
        times.sort()
        everything += times
        p95 = times[int(0.95 * (len(times) - 1))]
        print(f"{question:50} p50 {statistics.median(times):7.1f} ms  p95 {p95:7.1f} ms")
    everything.sort()
    print(f"{'all':50} p50 {statistics.median(everything):7.1f} ms  p95 "
          f"{everything[int(0.95 * (len(everything) - 1))]:7.1f} ms")


if __name__ == "__main__":
    main()
