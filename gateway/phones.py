"""Phone numbers, parsed with phonenumbers and kept in E.164."""

from __future__ import annotations

from functools import lru_cache

import phonenumbers

# Numbers without a country code are read as Rwandan.
DEFAULT_REGION = "RW"
# Numbers whose normal form is remembered (parsing one takes longer than a whole USSD hop's logic).
CACHED_NUMBERS = 16384


class InvalidPhoneError(ValueError):
    """Not a phone number that can receive a call or SMS."""


@lru_cache(maxsize=CACHED_NUMBERS)
def normalize(raw: str) -> str:
    """raw as E.164 (+2507XXXXXXXX); raises InvalidPhoneError."""
    try:
        number = phonenumbers.parse(raw.strip(), DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        raise InvalidPhoneError(f"not a phone number: {raw!r}") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhoneError(f"not a valid phone number: {raw!r}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def masked(e164: str) -> str:
    """A number safe for logs: +250788***456."""
    return e164[:7] + "***" + e164[-3:] if len(e164) > 10 else "***"
