"""The volunteer's SMS forms, read with the numbers of the shipped tree's menus (pure)."""

from __future__ import annotations

import pytest

from menus import smsform
from menus.smsform import FormError, HelpForm, ReportForm, VisitForm
from menus.tree import default_tree

TREE = default_tree()


@pytest.mark.parametrize(
    ("text", "answers", "place", "details"),
    [
        ("REPORT 1 1 3 1", ("violence", "yes", "12-17", "girl"), (), ""),
        ("report 9222 left alone", ("other", "no", "5-11", "boy"), (), "left alone"),
        ("Raporo 5,2,4,3", ("separated", "no", "unknown", "unknown"), (), ""),
        ("SIGNAL 8 1 1 2 @Ubumwe vu", ("placement", "yes", "under5", "boy"), ("Ubumwe", "vu"), ""),
        ("signal 3-2-2-1 * 3 enfants", ("labour", "no", "5-11", "girl"), (), "3 enfants"),
    ],
)
def test_report_form_answers_are_the_ussd_menus_values(text, answers, place, details):
    form = smsform.parse(TREE, text)
    assert isinstance(form, ReportForm)
    assert (form.answers["category"], form.answers["urgent"], form.answers["age_band"], form.answers["sex"]) == answers
    assert (form.place_words, form.details) == (place, details)


def test_the_report_numbers_are_the_option_keys_of_the_tree():
    for store in ("category", "urgent", "age_band", "sex"):
        node = TREE.storing_node(store)
        assert node is not None
        for option in node.options:
            digits = {"category": f"{option.key} 1 1 1", "urgent": f"1 {option.key} 1 1"}.get(store)
            digits = digits or {"age_band": f"1 1 {option.key} 1", "sex": f"1 1 1 {option.key}"}[store]
            form = smsform.parse(TREE, f"REPORT {digits}")
            assert isinstance(form, ReportForm) and form.answers[store] == option.value


def test_visit_form_reads_five_domain_answers():
    form = smsform.parse(TREE, "visite ab-1 2 1 1 1 2")
    assert isinstance(form, VisitForm)
    assert (form.lang, form.household, form.concerns) == ("fr", "AB-1", ("living", "economy"))


@pytest.mark.parametrize(
    ("text", "part", "lang"),
    [
        ("", "keyword", "rw"),
        ("hello", "keyword", "rw"),
        ("REPORT 10 1 1 1", "category", "en"),
        ("RAPORO 1 0", "urgent", "rw"),
        ("SIGNAL 1 1 0", "age", "fr"),
        ("REPORT 1 1 1 0", "sex", "en"),
        ("REPORT 1 1 1 1 @ ", "village", "en"),
        ("VISIT h", "household", "en"),
        ("GUSURA H12 1 1 1 1", "domains", "rw"),
        ("VISIT H12 1 1 1 1 1 extra", "domains", "en"),
    ],
)
def test_a_form_that_cannot_be_read_names_the_part_and_the_language(text, part, lang):
    with pytest.raises(FormError) as failed:
        smsform.parse(TREE, text)
    assert (failed.value.part, failed.value.lang) == (part, lang)


def test_help_in_each_language():
    assert [smsform.parse(TREE, w) for w in ("UBUFASHA", "help", "Aide")] == [
        HelpForm("rw"),  # type: ignore[arg-type]
        HelpForm("en"),  # type: ignore[arg-type]
        HelpForm("fr"),  # type: ignore[arg-type]
    ]
