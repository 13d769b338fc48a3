"""Encryption at rest: Fernet for stored fields, AES-GCM seals for short-lived Redis state."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from gateway.crypto import Crypto, DecryptionError

KEY = Fernet.generate_key().decode()


def test_a_sealed_value_reads_back_and_shows_nothing_of_the_text():
    crypto = Crypto(KEY, "secret")
    sealed = crypto.seal("Uncle hits her*often ñ")
    assert "Uncle" not in sealed and "hits" not in sealed
    assert crypto.seal("Uncle hits her*often ñ") != sealed  # a fresh nonce every time
    assert crypto.unseal(sealed) == "Uncle hits her*often ñ"


def test_a_value_encrypted_before_seals_existed_still_reads_back():
    crypto = Crypto(KEY, "secret")
    assert crypto.unseal(crypto.encrypt("an old draft").decode()) == "an old draft"


@pytest.mark.parametrize("tamper", ["other key", "altered", "not base64", "not a token"])
def test_an_altered_or_foreign_seal_is_refused(tamper: str):
    crypto = Crypto(KEY, "secret")
    sealed = crypto.seal("a draft")
    token = {
        "other key": Crypto(Fernet.generate_key().decode(), "secret").seal("a draft"),
        "altered": sealed[:-4] + ("AAAA" if not sealed.endswith("AAAA") else "BBBB"),
        "not base64": sealed[:3] + "!!!",
        "not a token": "not a draft",
    }[tamper]
    with pytest.raises(DecryptionError):
        crypto.unseal(token)
