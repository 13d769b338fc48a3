"""The validator refuses every kind of broken tree and passes every shipped one."""

from __future__ import annotations

import pytest
import yaml

from menus.gsm import is_gsm7, outside_gsm7, to_gsm7
from menus.tree import TreeError, default_tree, load_tree, parse_tree, shipped_trees
from menus.validate import validate


@pytest.mark.parametrize("path", shipped_trees(), ids=lambda p: p.name)
def test_every_shipped_tree_passes_in_every_language(path):
    tree = load_tree(path)
    assert set(tree.languages) == {"rw", "en", "fr"}
    assert "rw" in tree.needs_review
    assert validate(tree, 182) == []


def _mutated(change) -> list[str]:  # type: ignore[no-untyped-def]
    raw = yaml.safe_load(default_tree().source)
    change(raw)
    return validate(parse_tree(yaml.safe_dump(raw, allow_unicode=True)))


def test_refuses_a_missing_node():
    def change(raw):  # type: ignore[no-untyped-def]
        raw["nodes"]["danger"]["next"] = "nowhere"

    assert "node danger: leads to missing node 'nowhere'" in _mutated(change)


def test_refuses_an_unreachable_node():
    def change(raw):  # type: ignore[no-untyped-def]
        raw["nodes"]["orphan"] = {"text": {"rw": "a", "en": "a", "fr": "a"}, "type": "input", "next": "danger"}

    assert "node orphan: cannot be reached from a start node" in _mutated(change)


def test_refuses_duplicate_option_keys():
    def change(raw):  # type: ignore[no-untyped-def]
        raw["nodes"]["danger"]["options"][1]["key"] = "1"

    assert "node danger: option key '1' is used twice" in _mutated(change)


def test_refuses_a_screen_over_the_limit_in_one_language():
    def change(raw):  # type: ignore[no-untyped-def]
        raw["nodes"]["age"]["text"]["fr"] = "Age de l'enfant, " * 12

    problems = _mutated(change)
    assert any(p.startswith("node age page 1 (fr):") and "over 182" in p for p in problems), problems
    assert not any("(en)" in p for p in problems)


def test_refuses_characters_outside_gsm7():
    def change(raw):  # type: ignore[no-untyped-def]
        raw["nodes"]["sex"]["options"][1]["label"]["fr"] = "Garçon"

    assert "node sex option 2 label (fr): 'ç' is outside the GSM 7-bit alphabet" in _mutated(change)


def test_refuses_a_missing_translation():
    def change(raw):  # type: ignore[no-untyped-def]
        del raw["nodes"]["sex"]["text"]["rw"]

    assert "node sex text: no rw text" in _mutated(change)


def test_refuses_navigation_keys_as_options():
    def change(raw):  # type: ignore[no-untyped-def]
        raw["nodes"]["danger"]["options"][1]["key"] = "98"

    assert "node danger: option key '98' is kept for navigation" in _mutated(change)


def test_a_smaller_screen_limit_is_enforced():
    problems = validate(default_tree(), 120)
    assert problems and all("over 120" in p for p in problems)


def test_shape_errors_are_reported_not_raised_as_crashes():
    with pytest.raises(TreeError, match="no 'nodes'"):
        parse_tree("name: x\nlanguages: [en]\nstart: {}\nstrings: {}\n")
    with pytest.raises(TreeError, match="not valid YAML"):
        parse_tree("name: [unclosed")


def test_gsm7_alphabet():
    assert is_gsm7("Référence à 116 @ £ é è ù ì ò Ç")
    assert outside_gsm7("être ç {x}") == ["{", "}", "ç", "ê"]
    assert to_gsm7("Nyamata y\u2019 Umujyi\u00a0ê") == "Nyamata y' Umujyi e"
