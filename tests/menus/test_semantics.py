"""Every path to a report or a home visit collects the answers they need, with known values."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import yaml

from menus import semantics
from menus.editing import remove_node
from menus.texts import review_counts, set_review, to_review
from menus.tree import default_tree, parse_tree
from menus.validate import validate


def _changed(change: Callable[[dict[str, Any]], None]) -> list[str]:
    raw = yaml.safe_load(default_tree().source)
    change(raw)
    return validate(parse_tree(yaml.safe_dump(raw, allow_unicode=True)))


def test_the_shipped_tree_collects_everything_on_every_path() -> None:
    assert semantics.check(default_tree()) == []


def test_a_tree_without_the_age_question_is_refused_for_both_kinds_of_caller() -> None:
    problems = _changed(lambda raw: remove_node(raw, "age"))
    assert problems == [
        "node confirm option 1: a volunteer caller can send a report here without its age band (age_band)",
        "node confirm option 1: a community caller can send a report here without its age band (age_band)",
    ]


def test_one_path_that_skips_a_question_is_enough_to_refuse() -> None:
    def change(raw: dict[str, Any]) -> None:
        # "No" (not in danger) jumps straight to the place.
        raw["nodes"]["danger"]["options"][1]["next"] = "place"

    assert _changed(change) == [
        "node confirm option 1: a volunteer caller can send a report here without its age band (age_band), sex (sex)",
        "node confirm option 1: a community caller can send a report here without its age band (age_band), sex (sex)",
    ]


def test_an_option_value_outside_the_vocabulary_is_refused() -> None:
    def change(raw: dict[str, Any]) -> None:
        raw["nodes"]["danger"]["options"][0]["value"] = "maybe"

    assert _changed(change) == ["node danger: option 1 stores 'maybe', not one of yes, no"]


def test_review_status_is_per_text_and_reads_the_older_per_language_form() -> None:
    raw = yaml.safe_load(default_tree().source)
    assert raw["needs_review"] == ["rw"]
    pending = to_review(raw)
    assert ("nodes.age.text", "rw") in pending and ("nodes.age.text", "en") not in pending
    set_review(raw, pending - {("nodes.age.text", "rw")})
    tree = parse_tree(yaml.safe_dump(raw, allow_unicode=True))
    assert ("nodes.age.text", "rw") not in tree.to_review
    assert review_counts(raw) == {"rw": len(pending) - 1, "en": 0, "fr": 0}
    assert tree.needs_review == ("rw",)
