"""Benchmark: the full UCI Online Retail file (541,909 lines) through `crm-bot import online-retail`.

Each import runs as its own process, as a user would run it; wall time is measured around the
process and peak memory is the process's maximum resident set size.  Prints one row per run.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from scratch import scratch_store

ROOT = Path(__file__).resolve().parent.parent
DATASETS = Path(os.environ.get("CRM_DATASETS_DIR", ROOT.parent / "shared" / "data"))
CRM_BOT = shutil.which("crm-bot", path=str(Path(sys.executable).parent)) or "crm-bot"


def run_import(database_url: str, path: Path, workdir: Path, *extra: str) -> tuple[float, float, str]:
    """(seconds, peak MB, stdout) of one `crm-bot import` process."""
    env = {**os.environ, "DATABASE_URL": database_url, "CRM_REJECTS_DIR": str(workdir / "rejects"),
           "COLUMNS": "160"}
    out_path, err_path = workdir / "stdout.txt", workdir / "stderr.txt"
    with out_path.open("w") as out, err_path.open("w") as err:
        started = time.perf_counter()
        process = subprocess.Popen([CRM_BOT, "import", "online-retail", str(path), *extra], env=env,
                                   stdout=out, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)  # this child's own rusage, not all children's
        seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"import failed ({process.returncode}): {err_path.read_text()}")
    return seconds, usage.ru_maxrss / 1024, out_path.read_text()


def changed_rows(stdout: str) -> str:
    stdout = " ".join(stdout.split())
    match = re.search(r"New in the store:\s+([\d,]+) rows", stdout)
    if match:
        return match.group(1)
    return "0 (recognised as imported)" if "nothing to do" in stdout else "?"


def bench(backend: str, path: Path) -> None:
    with scratch_store(backend) as (url, workdir):
        for label, extra in (("first import", ()), ("re-import, same file", ()),
                             ("re-import, --force (every row re-checked)", ("--force",))):
            seconds, peak, stdout = run_import(url, path, workdir, *extra)
            print(f"| {backend} | {label} | {seconds:6.1f} s | {peak:6.0f} MB | {changed_rows(stdout)} |",
                  flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--file", type=Path, default=DATASETS / "online-retail" / "online_retail.csv.gz")
    args = parser.parse_args()
    if not args.file.exists():
        raise SystemExit(f"{args.file} not found: set CRM_DATASETS_DIR or pass --file")
    print(f"{args.file.name}, {os.cpu_count()} cores\n")
    print("| store | run | wall | peak memory (max RSS) | rows added |")
    print("|---|---|---:|---:|---|")
    for backend in ("sqlite", "postgresql") if args.backend == "both" else (args.backend,):
        bench(backend, args.file)


if __name__ == "__main__":
    main()
