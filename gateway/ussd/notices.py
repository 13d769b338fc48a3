"""USSD screens the gateway itself answers (not the menu tree's): they must be there even
when the database is not, and whatever tree version a session is on.

The Kinyarwanda texts await a native speaker's review, like the tree's.
"""

from __future__ import annotations

from gateway.vocabulary import DEFAULT_LANGUAGE

NOTICES: dict[str, dict[str, str]] = {
    # A hop too long to be a caller's typing (a hostile or broken request).
    "too_long": {
        "rw": "Ibyo mwanditse ni birebire cyane. Ongera uhamagare. Umwana ari mu kaga: 116.",
        "en": "Your answer is too long. Please dial again. Child in danger: call 116.",
        "fr": "Votre réponse est trop longue. Rappelez. Enfant en danger: 116.",
    },
    # More reports from one phone in an hour than its limit.
    "too_many_reports": {
        "rw": "Mwohereje raporo nyinshi muri iyi saha. Ongera mugerageze nyuma. Umwana ari mu kaga: 116.",
        "en": "You have sent many reports this hour. Please try again later. Child in danger: call 116.",
        "fr": "Vous avez envoyé beaucoup de signalements cette heure. Réessayez plus tard. Enfant en danger: 116.",
    },
    # More "Check a report" look-ups from one phone in an hour than its limit.
    "too_many_lookups": {
        "rw": "Mwashakishije raporo kenshi muri iyi saha. Ongera mugerageze nyuma.",
        "en": "You have checked many reports this hour. Please try again later.",
        "fr": "Vous avez consulté beaucoup de signalements cette heure. Réessayez plus tard.",
    },
    # The request could not be read at all (no session, no phone, bad id).
    "bad_request": {
        "rw": "Mutwihanganire, ntibyashobotse. Ongera uhamagare.",
        "en": "Sorry, this request could not be read. Please dial again.",
        "fr": "Désolé, cette demande n'a pas pu être lue. Rappelez.",
    },
}


def notice(key: str, lang: str = DEFAULT_LANGUAGE) -> str:
    """An END screen of the gateway's own, in lang (else the default language)."""
    texts = NOTICES[key]
    return "END " + texts.get(lang, texts[DEFAULT_LANGUAGE])
