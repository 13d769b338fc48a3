"""Encryption of sensitive fields at rest, and keyed hashes to look them up."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

# Marks a sealed value (AES-GCM); anything else is read as a Fernet token.
SEALED_PREFIX = "s1."
# Bytes of a random AES-GCM nonce.
NONCE_BYTES = 12


class DecryptionError(RuntimeError):
    """A ciphertext was made with another key or was altered."""


def split_keys(encryption_key: str) -> list[str]:
    """The Fernet keys ENCRYPTION_KEY lists (comma-separated), the encrypting one first."""
    return [k.strip() for k in encryption_key.split(",") if k.strip()]


def check_keys(encryption_key: str) -> str | None:
    """What is wrong with ENCRYPTION_KEY's keys, or None."""
    keys = split_keys(encryption_key)
    if not keys:
        return "lists no key"
    for n, key in enumerate(keys, 1):
        try:
            Fernet(key.encode())
        except ValueError:
            return f"key {n} is not a Fernet key (32 bytes, urlsafe base64)"
    return None


class Crypto:
    """Fernet encryption with ENCRYPTION_KEY; HMAC-SHA256 with SECRET_KEY for look-ups.

    Short-lived state in Redis (USSD sessions, drafts) is sealed with AES-GCM under a key
    derived from ENCRYPTION_KEY: it is rewritten on every hop, where Fernet costs more.

    ENCRYPTION_KEY may list several keys, comma-separated: the first encrypts, every one
    decrypts (key rotation: put the new key first, run `keys reencrypt`, then drop the old).
    """

    def __init__(self, encryption_key: str, secret_key: str) -> None:
        keys = split_keys(encryption_key)
        self._fernet = MultiFernet([Fernet(k.encode()) for k in keys])
        self._aeads = [
            AESGCM(hmac.new(base64.urlsafe_b64decode(k.encode()), b"ijwi redis state", hashlib.sha256).digest())
            for k in keys
        ]
        self._aead = self._aeads[0]
        self._secret = secret_key.encode()

    def encrypt(self, plain: str) -> bytes:
        return self._fernet.encrypt(plain.encode("utf-8"))

    def rotate(self, token: bytes) -> bytes:
        """token encrypted again with the first key (what `keys reencrypt` does to each value)."""
        try:
            return self._fernet.rotate(token)
        except InvalidToken:
            raise DecryptionError("cannot decrypt: wrong ENCRYPTION_KEY or altered data") from None

    def decrypt(self, token: bytes) -> str:
        try:
            return self._fernet.decrypt(token).decode("utf-8")
        except InvalidToken:
            raise DecryptionError("cannot decrypt: wrong ENCRYPTION_KEY or altered data") from None

    def seal(self, plain: str) -> str:
        """plain encrypted and authenticated, as text for Redis."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = nonce + self._aead.encrypt(nonce, plain.encode("utf-8"), None)
        return SEALED_PREFIX + base64.b64encode(sealed).decode("ascii")

    def unseal(self, token: str) -> str:
        """What seal() sealed (or encrypt() encrypted, before sessions were sealed)."""
        if not token.startswith(SEALED_PREFIX):
            return self.decrypt(token.encode())
        try:
            sealed = base64.b64decode(token[len(SEALED_PREFIX) :], validate=True)
        except ValueError:
            raise DecryptionError("cannot unseal: altered data") from None
        for aead in self._aeads:
            try:
                return aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], None).decode("utf-8")
            except (InvalidTag, ValueError):
                continue
        raise DecryptionError("cannot unseal: wrong ENCRYPTION_KEY or altered data")

    def lookup_hash(self, value: str) -> str:
        """A keyed hash: equal values match, and a phone cannot be guessed from it."""
        return hmac.new(self._secret, value.encode("utf-8"), hashlib.sha256).hexdigest()
