"""Every table of the store, in one metadata: what migrations and tests must see."""

from __future__ import annotations

from db import digest_models, ops_models, snapshot_models  # noqa: F401  (register their tables on Base.metadata)
from db.models import Base

metadata = Base.metadata
