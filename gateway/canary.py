"""The stored canary of ENCRYPTION_KEY: a wrong key is found at start and by /readyz,
not by the first caller whose hop or case read fails."""

from __future__ import annotations

import logging
from enum import StrEnum

from sqlalchemy.exc import SQLAlchemyError

from gateway.crypto import DecryptionError
from gateway.models import KeyCanary
from gateway.runtime import Runtime

log = logging.getLogger(__name__)

# The canary's row, and the text it holds.
NAME = "encryption_key"
TEXT = "ijwi: this is the key the data is encrypted with"


class KeyCheck(StrEnum):
    OK = "ok"
    # The key cannot decrypt the canary: data encrypted before cannot be read.
    WRONG = "wrong"
    # The database could not be asked (down, or not migrated yet).
    UNKNOWN = "unknown"


def check(rt: Runtime) -> KeyCheck:
    """Decrypt the canary (writing one with the first key if there is none)."""
    try:
        with rt.db.transaction() as session:
            row = session.get(KeyCanary, NAME)
            if row is None:
                session.add(KeyCanary(name=NAME, token=rt.crypto.encrypt(TEXT)))
                return KeyCheck.OK
            token = row.token
    except SQLAlchemyError as exc:
        log.warning("the key's canary could not be read: %s", type(exc).__name__)
        return KeyCheck.UNKNOWN
    try:
        return KeyCheck.OK if rt.crypto.decrypt(token) == TEXT else KeyCheck.WRONG
    except DecryptionError:
        return KeyCheck.WRONG


def rewrite(rt: Runtime) -> None:
    """Encrypt the canary again with the first key (after a re-encryption)."""
    with rt.db.transaction() as session:
        row = session.get(KeyCanary, NAME)
        if row is None:
            session.add(KeyCanary(name=NAME, token=rt.crypto.encrypt(TEXT)))
        else:
            row.token = rt.crypto.rotate(row.token)
