"""How well the reader understands the phrasing set, split by intent, and how fast it reads.

    .venv/bin/python benchmarks/understanding.py               # the phrasings the reader was tuned on
    .venv/bin/python benchmarks/understanding.py --held-out    # the final score on the held-out part
    .venv/bin/python benchmarks/understanding.py --all --show-misses

Reads every phrasing of tests/assistant/understanding/phrasings.toml (and its seeded variants:
the bot's mention, capitals, lower case, politeness, one typo) against the vocabulary of a fresh
demo store (the bundled Online Retail sample, built in a temporary folder), and prints the share
read correctly and asked back per intent, and the reading time per question (p50/p95).
Targets: >= 97% read correctly, <= 2% asked back, < 5 ms p95.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy.orm import Session

from assistant.commands.understanding.reader import read
from assistant.commands.understanding.vocabulary import Vocabulary, load
from assistant.jobs.refresh.run import run_refresh
from db import migrate
from db.engine import make_engine
from db.importers import ImportOptions, import_file
from db.sample import ONLINE_RETAIL_SAMPLE
from tests.assistant.understanding.phrasings import all_phrasings, matches, understand


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--held-out", action="store_true", help="score only the held-out phrasings")
    which.add_argument("--all", action="store_true", help="score both parts")
    parser.add_argument("--show-misses", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{folder}/demo.db")
        migrate.upgrade(engine)
        import_file(engine, "online-retail", ONLINE_RETAIL_SAMPLE, ImportOptions(reject_dir=Path(folder)))
        run_refresh(engine)
        with Session(engine) as session:
            vocabulary = load(session)
        score(vocabulary, args)
        engine.dispose()


def score(vocabulary: Vocabulary, args: argparse.Namespace) -> None:
    """Read every phrasing of the chosen part and print the figures."""
    phrasings = [p for p in all_phrasings() if args.all or p.held_out == args.held_out]
    read(phrasings[0].text, vocabulary)  # warm the regex and rapidfuzz caches
    right: dict[str, int] = defaultdict(int)
    total: dict[str, int] = defaultdict(int)
    asked: dict[str, int] = defaultdict(int)
    seconds, misses = [], []
    for phrasing in phrasings:
        started = time.perf_counter()
        understood = understand(phrasing.text, vocabulary)
        seconds.append(time.perf_counter() - started)
        ok, said = matches(understood, phrasing.expected)
        total[phrasing.intent] += 1
        right[phrasing.intent] += ok
        asked[phrasing.intent] += understood.reading is None and phrasing.expected != "ask"
        if not ok:
            misses.append(f"  {phrasing.text!r} ({phrasing.variant}): read {said!r}, expected {phrasing.expected!r}")
    part = "all phrasings" if args.all else "held-out phrasings" if args.held_out else "tuned phrasings"
    print(f"{part}: {len(phrasings)}")
    print(f"{'intent':12} {'n':>4} {'correct':>8} {'asked back':>11}")
    for intent in sorted(total):
        share, back = right[intent] / total[intent], asked[intent] / total[intent]
        print(f"{intent:12} {total[intent]:>4} {share:>8.1%} {back:>11.1%}")
    n = len(phrasings)
    print(f"{'all':12} {n:>4} {sum(right.values()) / n:>8.1%} {sum(asked.values()) / n:>11.1%}")
    ms = sorted(s * 1000 for s in seconds)
    p95 = ms[int(0.95 * (n - 1))]
    print(f"reading time: p50 {statistics.median(ms):.2f} ms, p95 {p95:.2f} ms, max {ms[-1]:.2f} ms")
    if args.show_misses and misses:
        print("misread:\n" + "\n".join(misses))


if __name__ == "__main__":
    main()
