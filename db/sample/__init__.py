"""The demo data set shipped with crm-bot: a real subset of UCI Online Retail (CC BY 4.0).

See README.md in this folder for its origin, licence and how it was cut.
"""

from __future__ import annotations

from pathlib import Path

SAMPLE_DIR = Path(__file__).parent
ONLINE_RETAIL_SAMPLE = SAMPLE_DIR / "online_retail_sample.csv.gz"
