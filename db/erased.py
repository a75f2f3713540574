"""The erased list: keyed hashes of customers erased on request, and what consults it.

Imports check every customer id against it so that a re-imported export does not bring an
erased person back; the audit log knows an erased customer by ``pseudonym``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db.access_models import ErasedCustomer, StoreKey

KEY_NAME = "erasure"
PSEUDONYM_PREFIX = "erased:"


def store_key(session: Session) -> bytes | None:
    """The store's erasure key (``None`` until the first erasure)."""
    value = session.scalar(select(StoreKey.value).where(StoreKey.name == KEY_NAME))
    return bytes.fromhex(value) if value is not None else None


def ensure_store_key(session: Session, now: datetime) -> bytes:
    """The store's erasure key, created on first use (race-safe: a concurrent creator's key wins)."""
    key = store_key(session)
    if key is not None:
        return key
    try:
        with session.begin_nested():
            session.add(StoreKey(name=KEY_NAME, value=secrets.token_hex(32), created_at=now))
    except IntegrityError:
        pass  # another process created it first: use theirs
    key = store_key(session)
    if key is None:
        raise RuntimeError("the erasure key could not be created")
    return key


def id_hash(key: bytes, external_id: str) -> str:
    """HMAC-SHA256 of a customer id under the store's key, hex."""
    return hmac.new(key, external_id.encode("utf-8"), hashlib.sha256).hexdigest()


def pseudonym(hashed: str) -> str:
    """How an erased customer appears in the audit log: ``erased:`` and 16 hex digits."""
    return PSEUDONYM_PREFIX + hashed[:16]


@dataclass(frozen=True)
class ErasedIds:
    """The erased list as importers use it: is this customer id one that must stay out?"""

    key: bytes | None = None
    hashes: frozenset[str] = frozenset()

    @classmethod
    def load(cls, connection: Connection) -> ErasedIds:
        key = connection.scalar(select(StoreKey.value).where(StoreKey.name == KEY_NAME))
        if key is None:
            return cls()
        return cls(bytes.fromhex(key), frozenset(connection.scalars(select(ErasedCustomer.id_hash))))

    def __contains__(self, external_id: object) -> bool:
        if not self.hashes or not isinstance(external_id, str):
            return False
        return id_hash(self.key or b"", external_id) in self.hashes

    def __bool__(self) -> bool:
        return bool(self.hashes)


def erased_at(session: Session, external_id: str) -> datetime | None:
    """When the customer with this id was erased (``None``: never)."""
    key = store_key(session)
    if key is None:
        return None
    return session.scalar(select(ErasedCustomer.erased_at).where(ErasedCustomer.id_hash == id_hash(key, external_id)))


def audit_refs(session: Session, external_id: str) -> list[str]:
    """The ids the audit log may know this customer by: the id, and the pseudonym once erased."""
    key = store_key(session)
    return [external_id] + ([pseudonym(id_hash(key, external_id))] if key is not None else [])
