"""The volunteer's SMS forms, read with the numbers of the USSD menu (pure: no I/O).

    REPORT <what> <danger> <age> <sex> [@village] [a few words]
    VISIT <household> <five answers>

The numbers are the option keys of the tree's menus that store `category`, `urgent`,
`age_band` and `sex` (and, for a visit, `domain_<domain>`: 1 OK, 2 concern): the card a
volunteer keeps shows the same numbers as the USSD menus. The keyword may be written in
any language of FORM_KEYWORDS; a form that cannot be read names the part that failed.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from menus.tree import Tree
from menus.vocabulary import Language, VisitDomain


class FormKind(StrEnum):
    """The forms a volunteer may send."""

    REPORT = "report"  # a concern, as the USSD "Report a concern"
    VISIT = "visit"  # a home visit, as the USSD "Record a home visit"
    HELP = "help"  # the card, by SMS


class FormPart(StrEnum):
    """The part of a form that could not be read (each has an SMS text form_<part>)."""

    KEYWORD = "keyword"  # no known first word
    CATEGORY = "category"  # 1st number: what is happening
    URGENT = "urgent"  # 2nd number: is the child in danger now
    AGE = "age"  # 3rd number: age band
    SEX = "sex"  # 4th number: sex
    VILLAGE = "village"  # the village after @ is not found (or not one)
    HOUSEHOLD = "household"  # the household code of a visit
    DOMAINS = "domains"  # the five answers of a visit


# First words of each form, by language (written without accents, any case).
FORM_KEYWORDS: dict[FormKind, dict[Language, str]] = {
    FormKind.REPORT: {Language.RW: "RAPORO", Language.EN: "REPORT", Language.FR: "SIGNAL"},
    FormKind.VISIT: {Language.RW: "GUSURA", Language.EN: "VISIT", Language.FR: "VISITE"},
    FormKind.HELP: {Language.RW: "UBUFASHA", Language.EN: "HELP", Language.FR: "AIDE"},
}
# The answers of a report form, in the order they are written, by the `store` of their menu.
REPORT_ANSWERS = (
    (FormPart.CATEGORY, "category"),
    (FormPart.URGENT, "urgent"),
    (FormPart.AGE, "age_band"),
    (FormPart.SEX, "sex"),
)
# A household code, as the USSD visit asks it.
_HOUSEHOLD = re.compile(r"^[A-Za-z0-9-]{3,12}$")
# Where a village is named: "@Ubumwe" or "@Katabaro/Ubumwe" (cell/village).
VILLAGE_MARK = "@"


@dataclass(frozen=True)
class ReportForm:
    lang: Language
    # Answers as the USSD engine stores them: category, urgent ("yes"/"no"), age_band, sex.
    answers: dict[str, str]
    # The words after @ (the village and maybe what follows it); empty: the volunteer's village.
    place_words: tuple[str, ...]
    # The few words with no @ part (or everything after @, when the place is read from it).
    details: str


@dataclass(frozen=True)
class VisitForm:
    lang: Language
    household: str
    concerns: tuple[VisitDomain, ...]


@dataclass(frozen=True)
class HelpForm:
    lang: Language


class FormError(ValueError):
    """A form that could not be read: which part, and in which language to say so."""

    def __init__(self, part: FormPart, lang: Language) -> None:
        super().__init__(f"{part} not understood")
        self.part = part
        self.lang = lang


def plain(word: str) -> str:
    """A word without accents, upper case: how keywords and outcome words are compared."""
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).upper()


def keyword(text: str) -> tuple[FormKind, Language] | None:
    """The form and language of an SMS's first word, if it is a form keyword."""
    words = text.split(maxsplit=1)
    if not words:
        return None
    first = plain(words[0])
    for kind, by_language in FORM_KEYWORDS.items():
        for lang, word in by_language.items():
            if first == word:
                return kind, lang
    return None


def parse(tree: Tree, text: str, lang: str = Language.RW) -> ReportForm | VisitForm | HelpForm:
    """The form in an SMS; FormError names the part that failed (in lang when no keyword says it)."""
    found = keyword(text)
    if found is None:
        raise FormError(FormPart.KEYWORD, next((known for known in Language if known == lang), Language.RW))
    kind, lang = found
    rest = text.split(maxsplit=1)[1] if len(text.split(maxsplit=1)) > 1 else ""
    if kind == FormKind.HELP:
        return HelpForm(lang)
    if kind == FormKind.VISIT:
        return _visit(tree, rest, lang)
    return _report(tree, rest, lang)


def _numbers(rest: str, count: int) -> tuple[list[str], str]:
    """Up to count single digits from the start of rest ("2 1 3 1", "2131", "2,1,3,1"), and what follows."""
    digits: list[str] = []
    tokens = re.split(r"([\s,.;:*#-]+)", rest.strip())
    used = 0
    for i, token in enumerate(tokens):
        if i % 2 == 1:
            continue
        # One digit a number, or all of them at once ("2131"): "10 1 1 1" is not category 1.
        compact = not digits and len(token) == count
        if not token.isascii() or not token.isdigit() or len(digits) + len(token) > count:
            break
        if len(token) > 1 and not compact:
            break
        digits += list(token)
        used = i + 1
    return digits, "".join(tokens[used:]).strip(" ,.;:*#-")


def _choice(tree: Tree, store: str) -> dict[str, str]:
    """Option key -> stored value of the menu that stores store."""
    node = tree.storing_node(store)
    if node is None:
        return {}
    return {o.key: o.value or o.key for o in node.options}


def _report(tree: Tree, rest: str, lang: Language) -> ReportForm:
    digits, tail = _numbers(rest, len(REPORT_ANSWERS))
    answers: dict[str, str] = {}
    for i, (part, store) in enumerate(REPORT_ANSWERS):
        value = _choice(tree, store).get(digits[i]) if i < len(digits) else None
        if value is None:
            raise FormError(part, lang)
        answers[store] = value
    if tail.startswith(VILLAGE_MARK):
        words = tuple(tail[len(VILLAGE_MARK) :].split())
        if not words:
            raise FormError(FormPart.VILLAGE, lang)
        return ReportForm(lang, answers, words, "")
    return ReportForm(lang, answers, (), tail)


def _visit(tree: Tree, rest: str, lang: Language) -> VisitForm:
    words = rest.split()
    if not words or not _HOUSEHOLD.match(words[0]):
        raise FormError(FormPart.HOUSEHOLD, lang)
    if len(words) == 1:
        # "VISIT 11211": the answers without a household code.
        raise FormError(FormPart.HOUSEHOLD if words[0].isdigit() else FormPart.DOMAINS, lang)
    household = words[0].upper()
    domains = list(VisitDomain)
    digits, tail = _numbers(" ".join(words[1:]), len(domains))
    if len(digits) != len(domains) or tail:
        raise FormError(FormPart.DOMAINS, lang)
    concerns: list[VisitDomain] = []
    for domain, digit in zip(domains, digits, strict=True):
        value = _choice(tree, f"domain_{domain}").get(digit)
        if value is None:
            raise FormError(FormPart.DOMAINS, lang)
        if value == "concern":
            concerns.append(domain)
    return VisitForm(lang, household, tuple(concerns))
