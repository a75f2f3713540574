"""The customer and product every example uses: help, usage messages, the console, the README.

Both exist in the bundled demo sample (``db/sample``) and in the full Online Retail data, so a
newcomer's first try answers; ``tests/assistant/test_examples.py`` runs every documented example
against a fresh demo store.
"""

from __future__ import annotations

CUSTOMER = "12748"
"""The demo sample's most frequent buyer (206 orders)."""

PRODUCT = "85123A"
"""WHITE HANGING HEART T-LIGHT HOLDER, the best-selling product."""

PRODUCT_WORDS = "white hanging heart"
"""Words from that product's description, as a person would type them."""
