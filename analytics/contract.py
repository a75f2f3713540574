"""Input checks shared by the analytics functions: clear errors instead of KeyErrors deep inside."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd


def require_columns(frame: pd.DataFrame, required: Iterable[str], what: str) -> None:
    """Raise ``ValueError`` naming the missing columns of ``frame`` (an input called ``what``)."""
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{what} must be a pandas DataFrame, got {type(frame).__name__}")
    missing = [column for column in required if column not in frame.columns]
    if missing:
        raise ValueError(f"{what} lacks column(s) {', '.join(missing)}; it has: "
                         f"{', '.join(map(str, frame.columns)) or 'no columns'}")


def empty_frame(columns: dict[str, str]) -> pd.DataFrame:
    """An empty DataFrame with the given column -> dtype schema."""
    return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in columns.items()})
