"""RFM on small literal frames, with exact expectations."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import pytest

from analytics.rfm import RFM_COLUMNS, SEGMENTS, quintile_scores, rfm_table, segment_for, segment_summary

AS_OF = datetime(2011, 12, 9, 12, 0)


def test_quintiles_by_position_with_ties_sharing_the_lower_score() -> None:
    values = pd.Series([1, 1, 1, 1, 2, 3, 4, 5, 6, 7])
    assert quintile_scores(values).tolist() == [1, 1, 1, 1, 3, 3, 4, 4, 5, 5]
    assert quintile_scores(pd.Series([10, 0, 5]), higher_is_better=False).tolist() == [1, 4, 2]
    assert quintile_scores(pd.Series(dtype="float64")).empty


@pytest.mark.parametrize(("r", "fm", "segment"), [
    (5, 5, "Champions"), (5, 4, "Champions"), (4, 5, "Champions"), (4, 4, "Loyal"), (3, 5, "Loyal"),
    (5, 1, "New"), (4, 1, "New"), (5, 3, "Potential loyalists"), (4, 2, "Potential loyalists"),
    (3, 1, "Need attention"), (3, 3, "Need attention"), (2, 3, "At risk"), (1, 4, "At risk"),
    (2, 5, "Can't lose them"), (1, 5, "Can't lose them"), (2, 2, "Hibernating"), (1, 2, "Lost"), (1, 1, "Lost"),
])
def test_grid(r: int, fm: int, segment: str) -> None:
    assert segment_for(r, fm) == segment


def test_every_grid_cell_is_a_known_segment() -> None:
    assert {segment_for(r, fm) for r in range(1, 6) for fm in range(1, 6)} == set(SEGMENTS)


def _totals() -> pd.DataFrame:
    return pd.DataFrame({
        "customer_id": [1, 2, 3, 4, 5, 6],
        "last_order_at": pd.to_datetime(["2011-12-09 10:00", "2011-12-01 00:00", "2011-06-01 00:00", "2010-12-05 00:00",
                                         "2011-12-08 00:00", "2011-11-01 00:00"]),
        "orders": [20, 5, 3, 1, 1, 0],
        "monetary": [5000.0, 800.0, 300.0, 50.0, 20.0, -10.0],
    })


def test_rfm_table_exact() -> None:
    table = rfm_table(_totals(), AS_OF)
    assert list(table.columns) == list(RFM_COLUMNS)
    assert table["customer_id"].tolist() == [1, 2, 3, 4, 5]  # 6 only has credits
    assert table["recency_days"].tolist() == [0, 8, 191, 369, 1]
    assert table["r_score"].tolist() == [5, 3, 2, 1, 4]
    assert table["f_score"].tolist() == [5, 4, 3, 1, 1]
    assert table["m_score"].tolist() == [5, 4, 3, 2, 1]
    assert table["fm_score"].tolist() == [5, 4, 3, 2, 1]
    assert table["segment"].tolist() == ["Champions", "Loyal", "At risk", "Lost", "New"]


def test_segment_summary_sizes_and_shares_add_up() -> None:
    summary = segment_summary(rfm_table(_totals(), AS_OF))
    assert summary["segment"].tolist() == list(SEGMENTS)
    assert summary["customers"].sum() == 5
    assert summary["revenue_share"].sum() == pytest.approx(1.0)
    champions = summary.set_index("segment").loc["Champions"]
    assert champions["revenue"] == 5000.0 and champions["revenue_share"] == pytest.approx(5000 / 6170)
    assert summary.set_index("segment").loc["Hibernating", "customers"] == 0


def test_empty_input_gives_an_empty_table_with_the_columns() -> None:
    empty = rfm_table(_totals().head(0), AS_OF)
    assert empty.empty and list(empty.columns) == list(RFM_COLUMNS)


def test_missing_columns_are_named() -> None:
    with pytest.raises(ValueError, match="lacks column"):
        rfm_table(_totals().drop(columns=["monetary"]), AS_OF)


def test_sales_after_as_of_are_refused() -> None:
    with pytest.raises(ValueError, match="after as_of"):
        rfm_table(_totals(), datetime(2011, 12, 1))
