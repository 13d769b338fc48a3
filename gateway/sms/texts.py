"""What the gateway says by SMS, in every language: alerts, replies to officers, notices.

Only the reference, urgency, category, age band, sex and place of a case ever go into an
SMS (and a registered volunteer's number); never what a caller typed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial

from gateway.clock import LOCAL_TIME
from menus.gsm import to_gsm7

# Languages of SMS texts; the first one is for people whose language is unknown.
LANGUAGES = ("rw", "en", "fr")
# Kinyarwanda strings await review by a native speaker.
NEEDS_REVIEW = ("rw",)
# How every alert starts (an escalated one starts with "unanswered" instead).
BRAND = "Ijwi"
# Characters of one SMS in the GSM 7-bit alphabet.
SMS_LIMIT = 160

CATEGORIES = {
    "rw": {
        "violence": "Ihohoterwa",
        "neglect": "Kutitabwaho",
        "labour": "Imirimo ikoreshwa umwana",
        "marriage": "Gushyingirwa/gutwita",
        "separated": "Yatawe/yazimiye",
        "school": "Yataye ishuri",
        "disability": "Ubumuga",
        "placement": "Umwana wasubijwe mu muryango",
        "other": "Ibindi",
    },
    "en": {
        "violence": "Violence/abuse",
        "neglect": "Neglect",
        "labour": "Child labour",
        "marriage": "Child marriage/pregnancy",
        "separated": "Abandoned/lost child",
        "school": "Out of school",
        "disability": "Disability support",
        "placement": "Placed child follow-up",
        "other": "Other concern",
    },
    "fr": {
        "violence": "Violence/abus",
        "neglect": "Négligence",
        "labour": "Travail des enfants",
        "marriage": "Mariage/grossesse précoce",
        "separated": "Enfant abandonné/perdu",
        "school": "Déscolarisation",
        "disability": "Soutien handicap",
        "placement": "Suivi enfant placé",
        "other": "Autre",
    },
}
# The child in a few words: sex, then age band.
SEXES = {
    "rw": {"girl": "umukobwa", "boy": "umuhungu", "unknown": "umwana"},
    "en": {"girl": "girl", "boy": "boy", "unknown": "child"},
    "fr": {"girl": "fille", "boy": "garcon", "unknown": "enfant"},
}
AGE_BANDS = {
    "rw": {"under5": "uri munsi y'imyaka 5", "5-11": "w'imyaka 5-11", "12-17": "w'imyaka 12-17", "unknown": ""},
    "en": {"under5": "under 5", "5-11": "aged 5-11", "12-17": "aged 12-17", "unknown": "age unknown"},
    "fr": {"under5": "de moins de 5 ans", "5-11": "de 5-11 ans", "12-17": "de 12-17 ans", "unknown": "d'age inconnu"},
}
STRINGS = {
    "alert_urgent": {
        "rw": "Ijwi BYIHUTIRWA dosiye {ref}: {category}, {child}, {place}.{reporter} Subiza OK {ref}",
        "en": "Ijwi URGENT case {ref}: {category}, {child}, {place}.{reporter} Reply OK {ref}",
        "fr": "Ijwi URGENT cas {ref}: {category}, {child}, {place}.{reporter} Répondez OK {ref}",
    },
    "alert_normal": {
        "rw": "Ijwi dosiye {ref} (ntibyihutirwa): {category}, {child}, {place}.{reporter} Subiza OK {ref}",
        "en": "Ijwi case {ref} (not urgent): {category}, {child}, {place}.{reporter} Reply OK {ref}",
        "fr": "Ijwi cas {ref} (non urgent): {category}, {child}, {place}.{reporter} Répondez OK {ref}",
    },
    "reporter": {"rw": " IZU {phone}.", "en": " IZU {phone}.", "fr": " IZU {phone}."},
    # Before the alert of a case moved up the chain because nobody answered it in time.
    "unanswered": {"rw": "NTIRASUBIZWA:", "en": "NOT ANSWERED:", "fr": "SANS REPONSE:"},
    "urgent": {"rw": "BYIHUTIRWA", "en": "URGENT", "fr": "URGENT"},
    "not_urgent": {"rw": "ntibyihutirwa", "en": "not urgent", "fr": "non urgent"},
    "info": {
        "rw": "Dosiye {ref} ({urgency}): {category}, {child}, {place}. {status}",
        "en": "Case {ref} ({urgency}): {category}, {child}, {place}. {status}",
        "fr": "Cas {ref} ({urgency}): {category}, {child}, {place}. {status}",
    },
    "info_open": {"rw": "Ntirakirwa.", "en": "Not yet acknowledged.", "fr": "Pas encore pris en charge."},
    "info_acknowledged": {"rw": "Yakiriwe {date}.", "en": "Acknowledged {date}.", "fr": "Pris en charge le {date}."},
    "info_closed": {"rw": "Yafunzwe {date}.", "en": "Closed {date}.", "fr": "Clos le {date}."},
    "acknowledged": {
        "rw": "Dosiye {ref} ni iyanyu. Murakoze. Nimurangiza, mwohereze DONE {ref} n'ubutumwa bugufi.",
        "en": "Case {ref} is yours. Thank you. When it is done, send DONE {ref} and a short note.",
        "fr": "Cas {ref} pris en charge. Merci. Une fois traité, envoyez DONE {ref} et une courte note.",
    },
    "taken": {
        "rw": "Dosiye {ref} yakiriwe n'undi mukozi. Nta kindi musabwa.",
        "en": "Case {ref} was taken by another officer. Nothing more is needed from you.",
        "fr": "Le cas {ref} est pris en charge par un autre agent. Rien de plus n'est attendu de vous.",
    },
    "already_acknowledged": {
        "rw": "Dosiye {ref} yamaze kwakirwa n'undi mukozi.",
        "en": "Case {ref} was already acknowledged by another officer.",
        "fr": "Le cas {ref} est déjà pris en charge par un autre agent.",
    },
    "closed": {
        "rw": "Dosiye {ref} irafunzwe. Murakoze.",
        "en": "Case {ref} is closed. Thank you.",
        "fr": "Cas {ref} clos. Merci.",
    },
    "already_closed": {
        "rw": "Dosiye {ref} yari yarafunzwe.",
        "en": "Case {ref} was already closed.",
        "fr": "Le cas {ref} est déjà clos.",
    },
    "note_missing": {
        "rw": "Ongeraho ubutumwa bugufi: DONE {ref} <ubutumwa>",
        "en": "Add a short note to close the case: DONE {ref} <note>",
        "fr": "Ajoutez une courte note pour clore le cas: DONE {ref} <note>",
    },
    "bad_reference": {
        "rw": "{ref} si nimero ya dosiye. Reba imibare, wongere wohereze.",
        "en": "{ref} is not a case number. Check the digits and send again.",
        "fr": "{ref} n'est pas un numéro de cas. Vérifiez et renvoyez.",
    },
    "unknown_reference": {
        "rw": "Nta dosiye ifite nimero {ref}.",
        "en": "No case has the number {ref}.",
        "fr": "Aucun cas ne porte le numéro {ref}.",
    },
    "not_your_case": {
        "rw": "Dosiye {ref} ntiri mu karere kanyu. Nta cyahindutse.",
        "en": "Case {ref} is not in your district. Nothing was changed.",
        "fr": "Le cas {ref} n'est pas de votre district. Rien n'a changé.",
    },
    "help": {
        "rw": "Ijwi: subiza OK <nimero> wakire dosiye, DONE <nimero> <ubutumwa> uyifunge, "
        "INFO <nimero> ubone incamake.",
        "en": "Ijwi: reply OK <case> to take a case, DONE <case> <note> to close it, INFO <case> for a summary.",
        "fr": "Ijwi: répondez OK <cas> pour prendre un cas, DONE <cas> <note> pour le clore, "
        "INFO <cas> pour un résumé.",
    },
    "not_officer": {
        "rw": "Ijwi yakira SMS z'abakozi banditse gusa. Gutanga amakuru: kanda {code}. Umwana ari mu kaga: 116.",
        "en": "Ijwi takes SMS from registered officers only. To report a concern, dial {code}. Child in danger: 116.",
        "fr": "Ijwi n'accepte que les SMS des agents inscrits. Pour signaler, composez {code}. Enfant en danger: 116.",
    },
    "slow_down": {
        "rw": "Ijwi: mwohereje ubutumwa bwinshi muri iyi saha. Ubundi ntibukorwa kugeza isaha irangiye.",
        "en": "Ijwi: you sent many commands this hour. Further ones wait until the hour is over.",
        "fr": "Ijwi: vous avez envoyé beaucoup de commandes cette heure. Les suivantes attendront la fin de l'heure.",
    },
    "out_of_credit": {
        "rw": "Ijwi: konti ya SMS yashizemo amafaranga. Hari ubutumwa butegereje koherezwa. Mwongeremo vuba.",
        "en": "Ijwi: the SMS account is out of credit. Alerts are waiting to be sent. Please top it up now.",
        "fr": "Ijwi: le compte SMS n'a plus de crédit. Des alertes sont en attente. Rechargez-le vite.",
    },
}


def language(lang: str | None) -> str:
    """lang if SMS texts exist in it, else the default language."""
    return lang if lang in LANGUAGES else LANGUAGES[0]


def say(key: str, lang: str | None, **values: object) -> str:
    """The string key in lang with values filled in."""
    return STRINGS[key][language(lang)].format(**values)


def child(lang: str, sex: str, age_band: str) -> str:
    """The child in a few words, e.g. "girl aged 12-17"."""
    lang = language(lang)
    words = [SEXES[lang].get(sex, SEXES[lang]["unknown"]), AGE_BANDS[lang].get(age_band, "")]
    return " ".join(w for w in words if w)


def category(lang: str, key: str) -> str:
    return CATEGORIES[language(lang)].get(key, CATEGORIES[language(lang)]["other"])


def alert(
    lang: str,
    *,
    reference: str,
    urgent: bool,
    category_key: str,
    age_band: str,
    sex: str,
    place: str,
    volunteer_phone: str | None = None,
    unanswered: bool = False,
) -> str:
    """The alert of a case: one SMS, shortening the place (village/cell/sector) if it must;
    an escalated one opens by saying nobody answered it, where the village's name leaves room."""
    template = "alert_urgent" if urgent else "alert_normal"
    reporter = say("reporter", lang, phone=volunteer_phone) if volunteer_phone else ""

    def compose(place_text: str, marked: bool) -> str:
        text = say(
            template,
            lang,
            ref=reference,
            category=category(lang, category_key),
            child=child(lang, sex, age_band),
            place=place_text,
            reporter=reporter,
        )
        # An escalated alert says so where the others say "Ijwi" (the sender id names us too).
        return say("unanswered", lang) + text.removeprefix(BRAND) if marked else text

    text = _fit(partial(compose, marked=unanswered), place)
    if unanswered and to_gsm7(place).split("/")[0] not in text:
        # A name too long for both: the village whole matters more than the word.
        text = _fit(partial(compose, marked=False), place)
    return text


def info(
    lang: str,
    *,
    reference: str,
    urgent: bool,
    category_key: str,
    age_band: str,
    sex: str,
    place: str,
    status: str,
    since: datetime | None,
) -> str:
    """The one-SMS summary INFO <ref> answers."""
    date = since.astimezone(LOCAL_TIME).strftime("%d/%m %H:%M") if since else ""
    if status in ("acknowledged", "closed"):
        status_text = say(f"info_{status}", lang, date=date)
    else:
        status_text = say("info_open", lang)

    def compose(place_text: str) -> str:
        return say(
            "info",
            lang,
            ref=reference,
            urgency=say("urgent" if urgent else "not_urgent", lang),
            category=category(lang, category_key),
            child=child(lang, sex, age_band),
            place=place_text,
            status=status_text,
        )

    return _fit(compose, place)


def _fit(compose: Callable[[str], str], place: str) -> str:
    """compose(place) in one SMS: drop the sector, then the cell, then cut the village name."""
    parts = to_gsm7(place).split("/")
    for keep in range(len(parts), 0, -1):
        text = to_gsm7(compose("/".join(parts[:keep])))
        if len(text) <= SMS_LIMIT:
            return text
    over = len(text) - SMS_LIMIT
    return to_gsm7(compose(parts[0][: max(3, len(parts[0]) - over)]))
