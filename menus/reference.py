"""Reference numbers: digits only, ending in a Damm check digit.

The Damm check digit catches every single mistyped digit and every swap of two
neighbouring digits, so a mistyped reference is refused instead of matching another case.
"""

from __future__ import annotations

import secrets

# Digits of a reference before its check digit.
BODY_DIGITS = 6

_DAMM = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)


def check_digit(body: str) -> str:
    interim = 0
    for ch in body:
        interim = _DAMM[interim][int(ch)]
    return str(interim)


def is_valid(reference: str) -> bool:
    """True when reference is all digits, of the right length, and its check digit holds."""
    ref = reference.strip()
    return len(ref) == BODY_DIGITS + 1 and ref.isdigit() and check_digit(ref) == "0"


def new_reference() -> str:
    """A random reference number that never starts with 0."""
    body = str(secrets.randbelow(9 * 10 ** (BODY_DIGITS - 1)) + 10 ** (BODY_DIGITS - 1))
    return body + check_digit(body)
