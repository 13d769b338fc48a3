"""The validator's checks of the field strings: the deactivated notice and the resume SMS."""

from __future__ import annotations

import yaml

from menus.tree import default_tree, parse_tree
from menus.validate import validate


def _with_string(key: str, lang: str, value: str) -> list[str]:
    raw = yaml.safe_load(default_tree().source)
    raw["strings"][key][lang] = value
    return validate(parse_tree(yaml.safe_dump(raw, allow_unicode=True)))


def test_the_not_registered_notice_must_fit_above_the_community_menu():
    # Short enough alone, too long with the menu under it.
    problems = _with_string("not_registered", "fr", "Inscription inactive. " * 5)
    assert len(problems) == 1
    assert problems[0].startswith("deactivated volunteer's first screen (fr): ")
    assert problems[0].endswith("over 182")


def test_the_resume_sms_must_fit_one_sms_even_with_the_longest_code():
    problems = _with_string("resume_sms", "en", "Dial {code} again. " + "x" * 130)
    assert problems == ["string resume_sms (en): 163 characters, over one SMS of 160"]


def test_the_resume_sms_must_be_gsm7():
    problems = _with_string("resume_sms", "fr", "Composez {code} pour reprendre là où vous êtes.")
    assert problems == ["string resume_sms (fr): 'ê' is outside the GSM 7-bit alphabet"]


def test_a_tree_without_the_resume_sms_is_refused():
    raw = yaml.safe_load(default_tree().source)
    del raw["strings"]["resume_sms"]
    assert "strings: 'resume_sms' is missing" in validate(parse_tree(yaml.safe_dump(raw, allow_unicode=True)))
