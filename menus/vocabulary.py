"""The words a report is made of, defined once: the values the menu trees store.

Pure (standard library only). `gateway.vocabulary` re-exports these beside the gateway's own.
"""

from __future__ import annotations

from enum import StrEnum


class Category(StrEnum):
    """What a report is about (the values of the tree's `category` menu)."""

    VIOLENCE = "violence"  # violence or abuse
    NEGLECT = "neglect"  # neglect
    LABOUR = "labour"  # child labour or exploitation
    MARRIAGE = "marriage"  # child marriage or pregnancy
    SEPARATED = "separated"  # abandoned, lost or separated child
    SCHOOL = "school"  # out of school
    DISABILITY = "disability"  # child with a disability needing support
    PLACEMENT = "placement"  # placed child needs follow-up (also every home-visit referral)
    OTHER = "other"  # anything else


class AgeBand(StrEnum):
    """The child's age, as a band (no birth dates are asked)."""

    UNDER_5 = "under5"  # under five
    FROM_5_TO_11 = "5-11"  # five to eleven
    FROM_12_TO_17 = "12-17"  # twelve to seventeen
    UNKNOWN = "unknown"  # the reporter does not know


class Sex(StrEnum):
    """The child's sex, as the reporter gives it."""

    GIRL = "girl"  # a girl
    BOY = "boy"  # a boy
    UNKNOWN = "unknown"  # not said or not known


class VisitDomain(StrEnum):
    """The five ACTIVE family-support domains a home visit looks at, in the visit's order."""

    LIVING = "living"  # living conditions
    HEALTH = "health"  # health
    EDUCATION = "education"  # education
    RELATIONSHIPS = "relationships"  # family and social relationships
    ECONOMY = "economy"  # household economy


class Language(StrEnum):
    """Languages of screens and SMS; the first is the default."""

    RW = "rw"  # Kinyarwanda (default; strings await a native speaker's review)
    EN = "en"  # English
    FR = "fr"  # French


class CallerKind(StrEnum):
    """Who is dialling or texting, as far as menus care."""

    VOLUNTEER = "volunteer"  # a registered, active Inshuti z'Umuryango
    COMMUNITY = "community"  # anybody else (not registered; the phone may be shared)


# The language of a caller nobody knows yet.
DEFAULT_LANGUAGE = Language.RW
