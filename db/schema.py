"""Every table of the store, in one metadata: what migrations and tests must see."""

from __future__ import annotations

from db import (  # noqa: F401  (register tables)
    access_models,
    conversation_models,
    digest_models,
    ops_models,
    rollup_models,
    snapshot_models,
    work_models,
)
from db.models import Base

metadata = Base.metadata
