"""Benchmark: frequent-itemset engines side by side on real baskets.

Each engine runs in its own process so its peak memory (max RSS) is its own. Baskets are the
sales orders of the full Online Retail file (merchandise lines, as the refresh builds them,
without the basket-size cap) or the Groceries baskets.

    python benchmarks/rule_engines.py                      # Online Retail, support 0.005, fim and mlxtend
    python benchmarks/rule_engines.py --support 0.002 --engines fim
    python benchmarks/rule_engines.py --dataset groceries --support 0.001
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATASETS = Path(os.environ.get("CRM_DATASETS_DIR", ROOT.parent / "shared" / "data"))


def load_lines(dataset: str):  # returns a pandas frame; imports stay lazy in the parent process
    import pandas as pd

    from db.importers.rules import product_kind

    if dataset == "groceries":
        text = (DATASETS / "groceries" / "groceries.csv").read_text(encoding="ascii")
        return pd.DataFrame([(i, sku) for i, line in enumerate(text.splitlines()) for sku in line.split(",")],
                            columns=["order_id", "sku"])
    raw = pd.read_csv(DATASETS / "online-retail" / "online_retail.csv.gz", dtype=str, keep_default_na=False)
    quantity, price = raw["Quantity"].astype(int), raw["UnitPrice"].astype(float)
    sales = raw[raw["InvoiceNo"].str[0].str.isdigit() & (quantity > 0) & (price > 0)
                & (raw["StockCode"].map(product_kind) == "product")]
    return sales.rename(columns={"InvoiceNo": "order_id", "StockCode": "sku"})[["order_id", "sku"]]


def child(dataset: str, engine: str, support: float, max_len: int) -> None:
    """Runs in a subprocess: mine itemsets once and print the figures as JSON."""
    import resource

    from analytics.rules import build_baskets, frequent_itemsets

    baskets = build_baskets(load_lines(dataset), max_basket_items=10_000)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    itemsets = frequent_itemsets(baskets, support, max_len=max_len, engine=engine, max_itemsets=50_000_000)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"engine": engine, "baskets": len(baskets.baskets), "itemsets": len(itemsets),
                      "seconds": seconds, "peak_mb": peak / 1024, "mining_mb": (peak - before) / 1024}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", choices=("online-retail", "groceries"), default="online-retail")
    parser.add_argument("--support", type=float, default=0.005)
    parser.add_argument("--max-len", type=int, default=10)
    parser.add_argument("--engines", default="fim,mlxtend")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.dataset, args.child, args.support, args.max_len)
        return
    print(f"{args.dataset}, min support {args.support}, itemsets up to {args.max_len} items, {os.cpu_count()} cores\n")
    print("| engine | baskets | itemsets | time | peak RSS | growth while mining |")
    print("|---|---:|---:|---:|---:|---:|")
    results = []
    for engine in args.engines.split(","):
        out = subprocess.run([sys.executable, __file__, "--dataset", args.dataset, "--support", str(args.support),
                              "--max-len", str(args.max_len), "--child", engine], capture_output=True, text=True,
                             check=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
        r = json.loads(out.stdout.strip().splitlines()[-1])
        results.append(r)
        print(f"| {r['engine']} | {r['baskets']:,} | {r['itemsets']:,} | {r['seconds']:.2f} s | "
              f"{r['peak_mb']:.0f} MB | {r['mining_mb']:.0f} MB |", flush=True)
    if len(results) > 1:
        fastest = min(results, key=lambda r: r["seconds"])
        for r in results:
            ratio = r["seconds"] / fastest["seconds"]
            print(f"\n{r['engine']}: {ratio:.1f}x the time of the fastest ({fastest['engine']})", end="")
        print()
        counts = {r["itemsets"] for r in results}
        print("same itemset count from every engine" if len(counts) == 1 else f"itemset counts differ: {counts}")


if __name__ == "__main__":
    main()
