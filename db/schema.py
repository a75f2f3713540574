"""Every table of the store, in one metadata: what migrations and tests must see."""

from __future__ import annotations

from db import access_models, digest_models, ops_models, snapshot_models  # noqa: F401  (register tables)
from db.models import Base

metadata = Base.metadata
