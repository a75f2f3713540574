"""Movement between segments from one snapshot to the next."""

from __future__ import annotations

import pandas as pd

from analytics.contract import require_columns


def segment_movement(current: pd.DataFrame, previous: pd.Series) -> tuple[pd.Series, pd.DataFrame]:
    """Each customer's previous segment, and per segment how many came, went and were there before.

    Parameters
    ----------
    current : ``customer_id, segment`` of the new snapshot.
    previous : segment by customer id in the previous snapshot (empty on the first run).

    Returns
    -------
    (previous_segment aligned with ``current`` rows, None where the customer was not scored
    before), and a DataFrame indexed by segment with ``previous_customers``, ``moved_in``
    (customers now here who were elsewhere or new) and ``moved_out`` (customers here before and
    elsewhere or gone now).
    """
    require_columns(current, ("customer_id", "segment"), "current segments")
    before = previous.reindex(current["customer_id"].to_numpy())
    previous_segment = pd.Series(before.to_numpy(), index=current.index, dtype=object).where(before.notna().to_numpy(),
                                                                                             None)
    now = current.set_index("customer_id")["segment"]
    segments = sorted(set(now) | set(previous))
    stats = pd.DataFrame(index=pd.Index(segments, name="segment"))
    stats["previous_customers"] = previous.value_counts().reindex(segments).fillna(0).astype("int64")
    same = now.reindex(previous.index) == previous
    stayed = previous[same.fillna(False).to_numpy()].value_counts()
    stats["moved_in"] = (now.value_counts().reindex(segments).fillna(0) - stayed.reindex(segments).fillna(0)
                         ).astype("int64")
    stats["moved_out"] = (stats["previous_customers"] - stayed.reindex(segments).fillna(0)).astype("int64")
    if previous.empty:
        stats["moved_in"] = 0
    return previous_segment, stats
