"""Encryption of sensitive fields at rest, and keyed hashes to look them up."""

from __future__ import annotations

import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken


class DecryptionError(RuntimeError):
    """A ciphertext was made with another key or was altered."""


class Crypto:
    """Fernet encryption with ENCRYPTION_KEY; HMAC-SHA256 with SECRET_KEY for look-ups."""

    def __init__(self, encryption_key: str, secret_key: str) -> None:
        self._fernet = Fernet(encryption_key.encode())
        self._secret = secret_key.encode()

    def encrypt(self, plain: str) -> bytes:
        return self._fernet.encrypt(plain.encode("utf-8"))

    def decrypt(self, token: bytes) -> str:
        try:
            return self._fernet.decrypt(token).decode("utf-8")
        except InvalidToken:
            raise DecryptionError("cannot decrypt: wrong ENCRYPTION_KEY or altered data") from None

    def lookup_hash(self, value: str) -> str:
        """A keyed hash: equal values match, and a phone cannot be guessed from it."""
        return hmac.new(self._secret, value.encode("utf-8"), hashlib.sha256).hexdigest()
