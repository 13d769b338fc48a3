"""The GSM 7-bit default alphabet (3GPP TS 23.038), which every screen must keep to."""

from __future__ import annotations

import re
import unicodedata

# The basic character set, without the escape to the extension table.
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Any character outside the basic set: when none is found, a text needs no change.
_OUTSIDE = re.compile("[^" + re.escape("".join(sorted(GSM7_BASIC))) + "]")
# Look-alikes that phones and data files use, mapped to what GSM-7 has.
_LOOKALIKES = {
    "\u00a0": " ",
    "\u2019": "'",
    "\u2018": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u2013": "-",
    "\u2014": "-",
    "\t": " ",
}


def outside_gsm7(text: str) -> list[str]:
    """The characters of text that are not in the GSM 7-bit default alphabet."""
    return sorted({ch for ch in text if ch not in GSM7_BASIC})


def is_gsm7(text: str) -> bool:
    return all(ch in GSM7_BASIC for ch in text)


def to_gsm7(text: str) -> str:
    """text made safe for a screen: look-alikes replaced, other accents dropped."""
    if _OUTSIDE.search(text) is None:
        return text
    out = []
    for ch in text:
        ch = _LOOKALIKES.get(ch, ch)
        if ch in GSM7_BASIC:
            out.append(ch)
            continue
        base = unicodedata.normalize("NFKD", ch)[0]
        out.append(base if base in GSM7_BASIC else "?")
    return "".join(out)
