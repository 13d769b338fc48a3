"""Phone numbers, parsed with phonenumbers and kept in E.164."""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers

# Numbers without a country code are read as Rwandan.
DEFAULT_REGION = "RW"
# Numbers whose normal and masked forms are remembered (parsing one takes longer than a whole
# USSD hop's logic; every hop logs its caller's masked number).
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


# Stands for the hidden digits of a masked number, whatever their count.
MASK = "*******"
# Something that looks like a phone number in a text (an alert's "IZU +250788123456").
_NUMBER_IN_TEXT = re.compile(r"\+?\d[\d ]{7,17}\d")


@lru_cache(maxsize=CACHED_NUMBERS)
def masked(e164: str) -> str:
    """A number safe for logs and for readers who may not see it: the country code and the
    last 3 digits only, the rest a fixed-width mask (+250*******456)."""
    try:
        number = phonenumbers.parse(e164, DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        return MASK
    national = str(number.national_number)
    if len(national) < 7:
        return MASK
    return f"+{number.country_code}{MASK}{national[-3:]}"


def mask_numbers(text: str) -> str:
    """text with every phone-like number in it masked."""
    return _NUMBER_IN_TEXT.sub(lambda m: masked(m.group(0).replace(" ", "")), text)


def in_country(e164: str, region: str) -> bool:
    """True when the number belongs to region (an ISO country code such as RW)."""
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(e164, region)) == region.upper()
    except phonenumbers.NumberParseException:
        return False
