"""Rebuild the bundled demo sample from the full UCI Online Retail file.

    python -m db.sample.build PATH/TO/online_retail.csv.gz

Keeps every line of 1,000 customers drawn at random (fixed seed) and of 5% of the guest
invoices (no customer id), in the original column layout and row order, so the demo shows
real histories and every cleaning rule at work.
"""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from db.sample import ONLINE_RETAIL_SAMPLE

CUSTOMERS = 1_000
GUEST_INVOICE_SHARE = 0.05
SEED = 20111209


def build(source: Path, target: Path = ONLINE_RETAIL_SAMPLE) -> int:
    """Write the sample to ``target``; returns the number of lines kept."""
    frame = pd.read_csv(source, dtype=str, keep_default_na=False)
    rng = np.random.default_rng(SEED)
    customers = np.sort(frame.loc[frame["CustomerID"] != "", "CustomerID"].unique())
    chosen = set(rng.choice(customers, size=CUSTOMERS, replace=False))
    guests = np.sort(frame.loc[frame["CustomerID"] == "", "InvoiceNo"].unique())
    chosen_guests = set(rng.choice(guests, size=int(len(guests) * GUEST_INVOICE_SHARE), replace=False))
    keep = frame["CustomerID"].isin(chosen) | frame["InvoiceNo"].isin(chosen_guests)
    with gzip.GzipFile(target, "wb", mtime=0) as handle:
        handle.write(frame[keep].to_csv(index=False).encode("utf-8"))
    return int(keep.sum())


if __name__ == "__main__":
    print(f"kept {build(Path(sys.argv[1])):,} lines in {ONLINE_RETAIL_SAMPLE}")
