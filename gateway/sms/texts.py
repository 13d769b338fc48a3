"""What the gateway says by SMS, in every language: alerts, replies to officers, notices.

Only the reference, urgency, category, age band, sex and place of a case ever go into an
SMS (and a registered volunteer's number); never what a caller typed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial

from gateway.clock import LOCAL_TIME
from gateway.vocabulary import AgeBand, Category, CloseOutcome, Language, ReferralStatus, Sex
from menus.gsm import to_gsm7
from menus.smsform import plain as plain_word

# Languages of SMS texts; the first one is for people whose language is unknown.
LANGUAGES = tuple(Language)
# Kinyarwanda strings await review by a native speaker.
NEEDS_REVIEW = (Language.RW,)
# How every alert starts (an escalated one starts with "unanswered" instead).
BRAND = "Ijwi"
# Characters of one SMS in the GSM 7-bit alphabet.
SMS_LIMIT = 160

CATEGORIES: dict[str, dict[str, str]] = {
    Language.RW: {
        Category.VIOLENCE: "Ihohoterwa",
        Category.NEGLECT: "Kutitabwaho",
        Category.LABOUR: "Imirimo ikoreshwa umwana",
        Category.MARRIAGE: "Gushyingirwa/gutwita",
        Category.SEPARATED: "Yatawe/yazimiye",
        Category.SCHOOL: "Yataye ishuri",
        Category.DISABILITY: "Ubumuga",
        Category.PLACEMENT: "Umwana wasubijwe mu muryango",
        Category.OTHER: "Ibindi",
    },
    Language.EN: {
        Category.VIOLENCE: "Violence/abuse",
        Category.NEGLECT: "Neglect",
        Category.LABOUR: "Child labour",
        Category.MARRIAGE: "Child marriage/pregnancy",
        Category.SEPARATED: "Abandoned/lost child",
        Category.SCHOOL: "Out of school",
        Category.DISABILITY: "Disability support",
        Category.PLACEMENT: "Placed child follow-up",
        Category.OTHER: "Other concern",
    },
    Language.FR: {
        Category.VIOLENCE: "Violence/abus",
        Category.NEGLECT: "Négligence",
        Category.LABOUR: "Travail des enfants",
        Category.MARRIAGE: "Mariage/grossesse précoce",
        Category.SEPARATED: "Enfant abandonné/perdu",
        Category.SCHOOL: "Déscolarisation",
        Category.DISABILITY: "Soutien handicap",
        Category.PLACEMENT: "Suivi enfant placé",
        Category.OTHER: "Autre",
    },
}
# The child in a few words: sex, then age band.
SEXES: dict[str, dict[str, str]] = {
    Language.RW: {Sex.GIRL: "umukobwa", Sex.BOY: "umuhungu", Sex.UNKNOWN: "umwana"},
    Language.EN: {Sex.GIRL: "girl", Sex.BOY: "boy", Sex.UNKNOWN: "child"},
    Language.FR: {Sex.GIRL: "fille", Sex.BOY: "garcon", Sex.UNKNOWN: "enfant"},
}
AGE_BANDS: dict[str, dict[str, str]] = {
    Language.RW: {
        AgeBand.UNDER_5: "uri munsi y'imyaka 5",
        AgeBand.FROM_5_TO_11: "w'imyaka 5-11",
        AgeBand.FROM_12_TO_17: "w'imyaka 12-17",
        AgeBand.UNKNOWN: "",
    },
    Language.EN: {
        AgeBand.UNDER_5: "under 5",
        AgeBand.FROM_5_TO_11: "aged 5-11",
        AgeBand.FROM_12_TO_17: "aged 12-17",
        AgeBand.UNKNOWN: "age unknown",
    },
    Language.FR: {
        AgeBand.UNDER_5: "de moins de 5 ans",
        AgeBand.FROM_5_TO_11: "de 5-11 ans",
        AgeBand.FROM_12_TO_17: "de 12-17 ans",
        AgeBand.UNKNOWN: "d'age inconnu",
    },
}
# Words an officer may write for an outcome after DONE <ref>, in any language (no accents,
# upper case); the number on the card is the outcome's place in CloseOutcome, from 1.
OUTCOME_WORDS: dict[CloseOutcome, tuple[str, ...]] = {
    CloseOutcome.FAMILY_SUPPORTED: ("SUPPORTED", "FAMILY", "SOUTENUE", "FAMILLE", "UMURYANGO", "YAFASHIJWE"),
    CloseOutcome.REFERRED: ("REFERRED", "ORIENTE", "YOHEREJWE"),
    CloseOutcome.PLACED: ("PLACED", "CARE", "PLACE", "YAREREWE"),
    CloseOutcome.UNFOUNDED: ("UNFOUNDED", "INFONDE", "NONFONDE", "SIBYO"),
    CloseOutcome.OTHER: ("OTHER", "AUTRE", "IBINDI"),
}
STRINGS = {
    "alert_urgent": {
        "rw": "Ijwi BYIHUTIRWA dosiye {ref}: {category}, {child}, {place}.{reporter}{same} Subiza OK {ref}",
        "en": "Ijwi URGENT case {ref}: {category}, {child}, {place}.{reporter}{same} Reply OK {ref}",
        "fr": "Ijwi URGENT cas {ref}: {category}, {child}, {place}.{reporter}{same} Répondez OK {ref}",
    },
    "alert_normal": {
        "rw": "Ijwi dosiye {ref} (ntibyihutirwa): {category}, {child}, {place}.{reporter}{same} Subiza OK {ref}",
        "en": "Ijwi case {ref} (not urgent): {category}, {child}, {place}.{reporter}{same} Reply OK {ref}",
        "fr": "Ijwi cas {ref} (non urgent): {category}, {child}, {place}.{reporter}{same} Répondez OK {ref}",
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
        "rw": "Dosiye {ref} ni iyanyu. Murakoze. Nimurangiza, mwohereze DONE {ref} <uko byarangiye 1-5> (n'ubutumwa).",
        "en": "Case {ref} is yours. Thank you. When it is done, send DONE {ref} <outcome 1-5> and a note if useful.",
        "fr": "Cas {ref} pris en charge. Merci. Une fois traité, envoyez DONE {ref} <issue 1-5> et une note au besoin.",
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
    "outcome_missing": {
        "rw": "Vuga uko dosiye {ref} yarangiye: DONE {ref} 1 umuryango wafashijwe, 2 yoherejwe muri serivisi, "
        "3 yarerewe ahandi, 4 si byo, 5 ibindi; n'ubutumwa.",
        "en": "Say how case {ref} ended: DONE {ref} 1 family supported, 2 referred to services, 3 placed in care, "
        "4 unfounded, 5 other; a note may follow.",
        "fr": "Dites l'issue du cas {ref}: DONE {ref} 1 famille soutenue, 2 orienté vers des services, 3 placé, "
        "4 non fondé, 5 autre; une note peut suivre.",
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
        "rw": "Ijwi: OK <nimero> uyakire, DONE <nimero> <1-5> uyifunge, INFO <nimero>, REOPEN <nimero>, "
        "TRANSFER <nimero> <akarere>, SAME/NOTSAME <nimero>, CASES, DUTY ON/OFF",
        "en": "Ijwi: OK <case> to take it, DONE <case> <1-5> to close, INFO <case>, REOPEN <case>, "
        "TRANSFER <case> <district>, SAME/NOTSAME <case>, CASES, DUTY ON/OFF",
        "fr": "Ijwi: OK <cas> pour le prendre, DONE <cas> <1-5> pour clore, INFO <cas>, REOPEN <cas>, "
        "TRANSFER <cas> <district>, SAME/NOTSAME <cas>, CASES, DUTY ON/OFF",
    },
    "out_of_credit": {
        "rw": "Ijwi: konti ya SMS yashizemo amafaranga. Hari ubutumwa butegereje koherezwa. Mwongeremo vuba.",
        "en": "Ijwi: the SMS account is out of credit. Alerts are waiting to be sent. Please top it up now.",
        "fr": "Ijwi: le compte SMS n'a plus de crédit. Des alertes sont en attente. Rechargez-le vite.",
    },
    # Officers' commands beyond OK, DONE and INFO.
    "reopened": {
        "rw": "Dosiye {ref} yongeye gufungurwa kandi ni iyanyu. Nimurangiza, mwohereze DONE {ref} <1-5>.",
        "en": "Case {ref} is open again and yours. When it is done, send DONE {ref} <outcome 1-5>.",
        "fr": "Le cas {ref} est rouvert et à vous. Une fois traité, envoyez DONE {ref} <issue 1-5>.",
    },
    "not_closed": {
        "rw": "Dosiye {ref} ntirafungwa. Nta cyahindutse.",
        "en": "Case {ref} is not closed. Nothing was changed.",
        "fr": "Le cas {ref} n'est pas clos. Rien n'a changé.",
    },
    "transferred": {
        "rw": "Dosiye {ref} yimuriwe mu karere ka {district}; abakozi baho bamenyeshejwe. Murakoze.",
        "en": "Case {ref} moved to {district}; its officers there are alerted. Thank you.",
        "fr": "Le cas {ref} passe au district {district}; ses agents sont alertés. Merci.",
    },
    "same_district": {
        "rw": "Dosiye {ref} isanzwe muri ako karere. Nta cyahindutse.",
        "en": "Case {ref} is already in that district. Nothing was changed.",
        "fr": "Le cas {ref} est déjà dans ce district. Rien n'a changé.",
    },
    "unknown_district": {
        "rw": "Nta karere kitwa gutyo. Urugero: TRANSFER {ref} Gasabo",
        "en": "No district has that name. Example: TRANSFER {ref} Gasabo",
        "fr": "Aucun district ne porte ce nom. Exemple: TRANSFER {ref} Gasabo",
    },
    "duty_on": {
        "rw": "Ijwi: muri ku kazi. Dosiye nshya z'akarere kanyu zizabanza kuza kuri mwe.",
        "en": "Ijwi: you are on duty. New cases of your district come to you first.",
        "fr": "Ijwi: vous voilà de service. Les nouveaux cas de votre district vous arrivent en premier.",
    },
    "duty_off": {
        "rw": "Ijwi: ntimuri ku kazi. Dosiye nshya zizajya ku bari ku kazi; muzazibona nihatagira usubiza.",
        "en": "Ijwi: you are off duty. New cases go first to officers on duty; you get them if nobody answers.",
        "fr": "Ijwi: vous voilà hors service. Les nouveaux cas vont aux agents de service; "
        "à vous si personne ne répond.",
    },
    "cases": {
        "rw": "Ijwi: dosiye zanyu zifunguye ({count}): {cases}",
        "en": "Ijwi: your open cases ({count}): {cases}",
        "fr": "Ijwi: vos cas ouverts ({count}): {cases}",
    },
    "cases_none": {
        "rw": "Ijwi: nta dosiye ifunguye mufite.",
        "en": "Ijwi: you have no open cases.",
        "fr": "Ijwi: vous n'avez aucun cas ouvert.",
    },
    "cases_more": {"rw": " +{count} izindi", "en": " +{count} more", "fr": " +{count} autres"},
    # Possible duplicates: two reports of one village about a child of the same category, age and sex.
    "same_as": {
        "rw": " Ishobora kuba ari {other}.",
        "en": " Possibly the same as {other}.",
        "fr": " Peut-etre le cas {other}.",
    },
    "dup_confirmed": {
        "rw": "Dosiye {ref} na {other} zanditswe ko ari umwana umwe. Murakoze.",
        "en": "Cases {ref} and {other} are marked as the same child. Thank you.",
        "fr": "Les cas {ref} et {other} sont notés comme un seul enfant. Merci.",
    },
    "dup_unlinked": {
        "rw": "Dosiye {ref} ntikibarwa nk'iya {other}.",
        "en": "Case {ref} is no longer marked as the same as {other}.",
        "fr": "Le cas {ref} n'est plus noté comme doublon de {other}.",
    },
    "not_linked": {
        "rw": "Dosiye {ref} ntiyanditswe ko ishobora kuba indi dosiye.",
        "en": "Case {ref} is not marked as possibly the same as another case.",
        "fr": "Le cas {ref} n'est pas noté comme un doublon possible.",
    },
    # Nothing left open quietly.
    "reminder": {
        "rw": "Ijwi: dosiye {ref} iracyafunguye nyuma y'iminsi {days}. Nimurangiza, mwohereze DONE {ref} <1-5>. "
        "INFO {ref} ku ncamake.",
        "en": "Ijwi: case {ref} is still open after {days} days. When it is done, send DONE {ref} <outcome 1-5>. "
        "INFO {ref} for a summary.",
        "fr": "Ijwi: le cas {ref} est encore ouvert après {days} jours. Une fois traité, envoyez "
        "DONE {ref} <issue 1-5>. INFO {ref}: résumé.",
    },
    "reminder_supervisor": {
        "rw": "Ijwi: dosiye {ref} ({district}) iracyafunguye iminsi {days} nyuma yo kwakirwa; umukozi wayo "
        "yibukijwe. INFO {ref} ku ncamake.",
        "en": "Ijwi: case {ref} ({district}) is still open {days} days after it was taken; its officer was "
        "reminded. INFO {ref} for a summary.",
        "fr": "Ijwi: le cas {ref} ({district}) est encore ouvert {days} jours après sa prise en charge; son agent "
        "a été relancé. INFO {ref}: résumé.",
    },
    "digest": {
        "rw": "Ijwi {district} {date}: nshya {new}, zifunguye {open}, zatinze {overdue}, zazamuwe {escalated}, "
        "ubutumwa butageze {failed}.",
        "en": "Ijwi {district} {date}: {new} new, {open} open, {overdue} overdue, {escalated} escalated, "
        "{failed} alerts not delivered.",
        "fr": "Ijwi {district} {date}: {new} nouveaux, {open} ouverts, {overdue} en retard, {escalated} remontés, "
        "{failed} alertes non remises.",
    },
    # A community member's SMS becomes a case that a person reads first.
    "alert_triage": {
        "rw": "Ijwi dosiye {ref}: SMS y'umuturage igomba gusomwa ({place}). Isome muri Ijwi.{same} Subiza OK {ref}",
        "en": "Ijwi case {ref}: a community SMS to read and triage ({place}). Read it in Ijwi.{same} Reply OK {ref}",
        "fr": "Ijwi cas {ref}: un SMS de la communauté à lire et trier ({place}). Lisez-le dans Ijwi.{same} "
        "Répondez OK {ref}",
    },
    "no_place": {"rw": "ahantu ntihavuzwe", "en": "place not given", "fr": "lieu non donné"},
    "sms_received": {
        "rw": "Ijwi: murakoze, ubutumwa bwanyu bwakiriwe. Niba umwana ari mu kaga ubu, hamagara 116.",
        "en": "Ijwi: thank you, your message has arrived. If a child is in danger now, call 116.",
        "fr": "Ijwi: merci, votre message est bien arrivé. Si un enfant est en danger maintenant, appelez le 116.",
    },
    # A volunteer's SMS forms (the numbers are the USSD menu's).
    "report_received": {
        "rw": "Ijwi: raporo yakiriwe, nimero {ref}. Murakoze. Umukozi yamenyeshejwe. Umwana ari mu kaga ubu: "
        "hamagara 116.",
        "en": "Ijwi: report received, number {ref}. Thank you. An officer is alerted. If the child is in danger "
        "now, call 116.",
        "fr": "Ijwi: signalement enregistré, numéro {ref}. Merci. Un agent est alerté. Enfant en danger "
        "immédiat: appelez le 116.",
    },
    "visit_received": {
        "rw": "Ijwi: gusura kwanditswe, nimero {ref}. Murakoze.",
        "en": "Ijwi: home visit recorded, number {ref}. Thank you.",
        "fr": "Ijwi: visite enregistrée, numéro {ref}. Merci.",
    },
    "visit_concerns": {
        "rw": "Ijwi: gusura kwanditswe, nimero {ref}. Murakoze. Umukozi azakurikirana ibibazo mwagaragaje.",
        "en": "Ijwi: home visit recorded, number {ref}. Thank you. An officer will follow up the concerns.",
        "fr": "Ijwi: visite enregistrée, numéro {ref}. Merci. Un agent suivra les problèmes signalés.",
    },
    "form_keyword": {
        "rw": "Ijwi: tanga raporo: RAPORO n'imibare 4 nko kuri {code}: ikibazo, akaga (1 yego 2 oya), imyaka, "
        "igitsina. Urugero: RAPORO 2 1 3 1",
        "en": "Ijwi: to report send REPORT and 4 numbers as in {code}: what, danger (1 yes 2 no), age, sex. "
        "Example: REPORT 2 1 3 1. Visit: VISIT H12 1 1 2 1 1",
        "fr": "Ijwi: pour signaler, envoyez SIGNAL et 4 chiffres comme au {code}: quoi, danger (1 oui 2 non), age, "
        "sexe. Exemple: SIGNAL 2 1 3 1",
    },
    "form_numbers": {
        "rw": "Ikibazo: 1 ihohoterwa 2 kutitabwaho 3 imirimo 4 ubukwe 5 yatawe 6 ishuri 7 ubumuga "
        "8 yasubijwe 9 ibindi. Imyaka: 1 <5 2 5-11 3 12-17 4 ?. 1 gore 2 gabo 3 ?",
        "en": "What: 1 violence 2 neglect 3 labour 4 marriage 5 lost 6 school 7 disability 8 placed child "
        "9 other. Age: 1 <5 2 5-11 3 12-17 4 ?. Sex: 1 girl 2 boy 3 ?",
        "fr": "Quoi: 1 violence 2 négligence 3 travail 4 mariage 5 perdu 6 école 7 handicap 8 enfant placé "
        "9 autre. Age: 1 <5 2 5-11 3 12-17 4 ?. Sexe: 1 fille 2 garcon 3 ?",
    },
    "form_category": {
        "rw": "Ijwi: umubare wa 1 (ikibazo) ugomba kuba 1 kugeza 9, nko kuri {code}. Urugero: RAPORO 2 1 3 1. "
        "UBUFASHA ku rutonde.",
        "en": "Ijwi: the 1st number (what is happening) must be 1 to 9, as in {code}. Example: REPORT 2 1 3 1. "
        "HELP for the list.",
        "fr": "Ijwi: le 1er chiffre (ce qui se passe) doit aller de 1 à 9, comme au {code}. Exemple: SIGNAL 2 1 3 1. "
        "AIDE: la liste.",
    },
    "form_urgent": {
        "rw": "Ijwi: umubare wa 2 (umwana ari mu kaga ubu?) ugomba kuba 1 yego cyangwa 2 oya. Urugero: RAPORO 2 1 3 1",
        "en": "Ijwi: the 2nd number (is the child in danger now?) must be 1 yes or 2 no. Example: REPORT 2 1 3 1",
        "fr": "Ijwi: le 2e chiffre (enfant en danger maintenant?) doit valoir 1 oui ou 2 non. Exemple: SIGNAL 2 1 3 1",
    },
    "form_age": {
        "rw": "Ijwi: umubare wa 3 (imyaka) ugomba kuba 1 munsi ya 5, 2 kuri 5-11, 3 kuri 12-17 cyangwa 4 ntibizwi. "
        "Urugero: RAPORO 2 1 3 1",
        "en": "Ijwi: the 3rd number (age) must be 1 under 5, 2 for 5-11, 3 for 12-17 or 4 unknown. "
        "Example: REPORT 2 1 3 1",
        "fr": "Ijwi: le 3e chiffre (age) doit valoir 1 moins de 5 ans, 2 pour 5-11, 3 pour 12-17 ou 4 inconnu. "
        "Exemple: SIGNAL 2 1 3 1",
    },
    "form_sex": {
        "rw": "Ijwi: umubare wa 4 (igitsina) ugomba kuba 1 umukobwa, 2 umuhungu cyangwa 3 ntibizwi. "
        "Urugero: RAPORO 2 1 3 1",
        "en": "Ijwi: the 4th number (sex) must be 1 girl, 2 boy or 3 unknown. Example: REPORT 2 1 3 1",
        "fr": "Ijwi: le 4e chiffre (sexe) doit valoir 1 fille, 2 garcon ou 3 inconnu. Exemple: SIGNAL 2 1 3 1",
    },
    "form_village": {
        "rw": "Ijwi: umudugudu wanditse nyuma ya @ ntubonetse mu karere kanyu. Andika izina ryawo, cyangwa "
        "akagari/umudugudu. Urugero: RAPORO 2 1 3 1 @Ubumwe",
        "en": "Ijwi: the village after @ is not in your district. Write its name as on the list, or cell/village. "
        "Example: REPORT 2 1 3 1 @Ubumwe",
        "fr": "Ijwi: le village après @ n'est pas dans votre district. Ecrivez son nom, ou cellule/village. "
        "Exemple: SIGNAL 2 1 3 1 @Ubumwe",
    },
    "form_household": {
        "rw": "Ijwi: tangira n'inomero y'urugo (inyuguti cyangwa imibare 3 kugeza 12). Urugero: GUSURA H12 1 1 2 1 1",
        "en": "Ijwi: start a visit with the household code (3 to 12 letters or digits). Example: VISIT H12 1 1 2 1 1",
        "fr": "Ijwi: commencez la visite par le code du ménage (3 à 12 lettres ou chiffres). "
        "Exemple: VISITE H12 1 1 2 1 1",
    },
    "form_domains": {
        "rw": "Ijwi: nyuma y'inomero y'urugo, andika imibare 5, 1 ni byiza 2 hari ikibazo: imibereho, ubuzima, "
        "uburezi, umuryango, ubukungu. Urugero: GUSURA H12 1 1 2 1 1",
        "en": "Ijwi: after the household code give 5 numbers, 1 OK or 2 concern: living, health, education, "
        "family, economy. Example: VISIT H12 1 1 2 1 1",
        "fr": "Ijwi: après le code du ménage, 5 chiffres, 1 OK ou 2 problème: logement, santé, éducation, famille, "
        "économie. Exemple: VISITE H12 1 1 2 1 1",
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
    words = [SEXES[lang].get(sex, SEXES[lang][Sex.UNKNOWN]), AGE_BANDS[lang].get(age_band, "")]
    return " ".join(w for w in words if w)


def category(lang: str, key: str) -> str:
    return CATEGORIES[language(lang)].get(key, CATEGORIES[language(lang)][Category.OTHER])


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
    same_as: str | None = None,
) -> str:
    """The alert of a case: one SMS, shortening the place (village/cell/sector) if it must;
    an escalated one opens by saying nobody answered it, where the village's name leaves room;
    same_as: the reference of an earlier case it is possibly about."""
    template = "alert_urgent" if urgent else "alert_normal"
    reporter = say("reporter", lang, phone=volunteer_phone) if volunteer_phone else ""
    same = say("same_as", lang, other=same_as) if same_as else ""

    def compose(place_text: str, marked: bool) -> str:
        text = say(
            template,
            lang,
            ref=reference,
            category=category(lang, category_key),
            child=child(lang, sex, age_band),
            place=place_text,
            reporter=reporter,
            same=same,
        )
        # An escalated alert says so where the others say "Ijwi" (the sender id names us too).
        return say("unanswered", lang) + text.removeprefix(BRAND) if marked else text

    text = _fit(partial(compose, marked=unanswered), place)
    if unanswered and to_gsm7(place).split("/")[0] not in text:
        # A name too long for both: the village whole matters more than the word.
        text = _fit(partial(compose, marked=False), place)
    return text


def triage_alert(
    lang: str, *, reference: str, district: str | None, unanswered: bool = False, same_as: str | None = None
) -> str:
    """The alert of a community SMS: only that there is one to read, and its district if it named one."""
    text = say(
        "alert_triage",
        lang,
        ref=reference,
        place=district or say("no_place", lang),
        same=say("same_as", lang, other=same_as) if same_as else "",
    )
    return to_gsm7(say("unanswered", lang) + text.removeprefix(BRAND) if unanswered else text)


def outcome(word: str) -> CloseOutcome | None:
    """The outcome a DONE names: its number on the card (1-5) or a word of OUTCOME_WORDS."""
    plain = plain_word(word).strip(",.;:!")
    outcomes = list(CloseOutcome)
    if plain.isdigit() and 1 <= int(plain) <= len(outcomes):
        return outcomes[int(plain) - 1]
    return next((o for o, words in OUTCOME_WORDS.items() if plain in words), None)


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
    if status in (ReferralStatus.ACKNOWLEDGED, ReferralStatus.CLOSED):
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
