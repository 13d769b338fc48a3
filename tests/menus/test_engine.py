"""The engine on its own: table-driven walks through the shipped tree, in every language."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import asdict, fields

import pytest

from menus import engine
from menus.engine import RESUME_NODE, Outcome, State
from menus.gsm import is_gsm7
from menus.reference import check_digit
from menus.tree import default_tree

TREE = default_tree()
LANGUAGES = TREE.languages
HOME = {"id": 1112, "name": "Ubumwe"}
VALID_REFERENCE = "483027" + check_digit("483027")


class FakePlaces:
    """Two districts, a sector, a cell and two villages each."""

    _CHILDREN: dict[int | None, list[tuple[int, str]]] = {
        None: [(1, "Gasabo"), (2, "Nyarugenge")],
        1: [(11, "Remera")],
        11: [(111, "Rukiri I")],
        111: [(1111, "Amajyambere"), (1112, "Ubumwe")],
        2: [(21, "Kimisagara")],
        21: [(211, "Katabaro")],
        211: [(2111, "Ubumwe"), (2112, "Nyabugogo")],
    }

    def children(self, parent: int | None) -> Sequence[tuple[int, str]]:
        return self._CHILDREN.get(parent, [])

    def label(self, place_id: int) -> str:
        for parent, kids in self._CHILDREN.items():
            for kid, name in kids:
                if kid == place_id:
                    return f"{name}, {self.label(parent)}" if parent and place_id > 1000 else name
        return "?"


PLACES = FakePlaces()


def walk(caller: str, lang: str, inputs: list[str], home: dict[str, object] | None = None) -> list[Outcome]:
    """Every outcome of a session that types inputs, the first screen included."""
    outcomes = [engine.start(TREE, caller, lang, PLACES, home=home)]
    for answer in inputs:
        assert not outcomes[-1].end, f"the session ended before {answer!r}"
        outcomes.append(engine.step(TREE, outcomes[-1].state, answer, PLACES))
    return outcomes


# caller, inputs, the effect the last screen asks for (None: ends without one), data it carries.
WALKS = {
    "community report, place picked, anonymous": (
        "community",
        ["1", "2", "2", "2", "2", "2", "1", "1", "1", "Hungry*alone", "2", "1"],
        "submit_report",
        {"category": "neglect", "urgent": "no", "age_band": "5-11", "sex": "boy", "location": "2111"},
    ),
    "volunteer report from my village": (
        "volunteer",
        ["1", "1", "1", "1", "1", "1", "1", "1"],
        "submit_report",
        {"category": "violence", "urgent": "yes", "age_band": "under5", "sex": "girl", "location": "1112"},
    ),
    "home visit with two concerns": (
        "volunteer",
        ["2", "HH-12", "1", "2", "1", "1", "2", "1"],
        "record_visit",
        {"household": "HH-12", "domain_health": "concern", "domain_economy": "concern", "domain_living": "ok"},
    ),
    "volunteer checks a report": ("volunteer", ["3", VALID_REFERENCE], "check_report", {"reference": VALID_REFERENCE}),
    "community caller checks a report": (
        "community",
        ["2", VALID_REFERENCE],
        "check_report",
        {"reference": VALID_REFERENCE},
    ),
    "report cancelled at the summary": (
        "community",
        ["1", "9", "2", "4", "3", "1", "1", "1", "1", "1", "1", "2"],
        None,
        {},
    ),
}


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("name", WALKS)
def test_walk_ends_with_its_effect_and_every_screen_is_in_the_callers_language(name, lang):
    caller, inputs, action, data = WALKS[name]
    outcomes = walk(caller, lang, inputs, home=HOME if caller == "volunteer" else None)
    last = outcomes[-1]
    assert last.end
    assert [e.action for e in last.effects] == ([action] if action else [])
    if action:
        assert data.items() <= last.effects[0].data.items()
    for outcome in outcomes[:-1]:
        node = outcome.state.node
        if TREE.nodes[node].type != "place":
            assert TREE.nodes[node].text[lang].split("{")[0] in outcome.text, (node, outcome.text)
        assert len(outcome.text) <= 182 and is_gsm7(outcome.text), outcome.text


@pytest.mark.parametrize("lang", LANGUAGES)
def test_urgent_report_ends_with_the_reference_and_116_and_nothing_else(lang):
    caller, inputs, _, _ = WALKS["volunteer report from my village"]
    last = walk(caller, lang, inputs, home=HOME)[-1]
    confirm = TREE.nodes["confirm"].options[0]
    assert last.text == confirm.end_urgent[lang]  # the gateway puts the reference in
    assert "116" in last.text and "{reference}" in last.text


@pytest.mark.parametrize(("lang", "other"), [("rw", "en"), ("en", "fr"), ("fr", "rw")])
def test_choosing_a_language_switches_the_menu_and_asks_to_remember_it(lang, other):
    key = next(o.key for o in TREE.nodes["language"].options if o.value == other)
    outcomes = walk("community", lang, ["3", key])
    last = outcomes[-1]
    assert [(e.action, e.data) for e in last.effects] == [("set_language", {"lang": other})]
    assert last.state.lang == other and last.state.node == "main_community"
    assert last.text.startswith(TREE.nodes["main_community"].text[other])


@pytest.mark.parametrize(
    ("inputs", "expected"),
    [
        ([], False),  # the main menu
        (["3"], False),  # the language menu
        (["1"], False),  # the first question, nothing answered yet
        (["1", "2"], True),  # a category chosen
        (["1", "2", "0"], True),  # back to the first question: the answer is still there
        (["1", "2", "0", "0"], False),  # back on the main menu: nothing under way
        (["1", "2", "0", "0", "3"], False),  # ... and then checking a report
        (["1", "2", "0", "0", "4"], False),  # ... or choosing a language
        (["1", "2", "00"], False),  # straight to the main menu
        (["2", "HH-12"], True),  # a home visit under way
    ],
)
def test_only_a_report_or_visit_under_way_is_worth_resuming(inputs, expected):
    state = walk("volunteer", "en", inputs, home=HOME)[-1].state
    assert engine.resumable(TREE, state) is expected


@pytest.mark.parametrize("lang", LANGUAGES)
def test_resuming_shows_the_very_screen_where_the_caller_stopped(lang):
    inputs = ["1", "1", "1", "1", "1", "1", "1", "1"]
    before = walk("volunteer", lang, inputs[:3], home=HOME)[-1]  # stopped at the age question
    offer = engine.offer_resume(TREE, before.state, PLACES)
    assert offer.state.node == RESUME_NODE
    assert offer.text == "\n".join(
        [
            TREE.string("resume", lang),
            f"1. {TREE.string('resume_yes', lang)}",
            f"2. {TREE.string('resume_restart', lang)}",
        ]
    )
    resumed = engine.step(TREE, offer.state, "1", PLACES)
    assert resumed.text == before.text
    assert [e.action for e in resumed.effects] == ["resume_draft"]
    state = resumed.state
    for answer in inputs[3:]:
        outcome = engine.step(TREE, state, answer, PLACES)
        state = outcome.state
    uninterrupted = walk("volunteer", lang, inputs, home=HOME)[-1]
    assert outcome.end and outcome.effects == uninterrupted.effects


def test_start_again_discards_the_draft_and_shows_the_main_menu():
    draft = walk("community", "fr", ["1", "1"])[-1].state
    offer = engine.offer_resume(TREE, draft, PLACES)
    fresh = engine.step(TREE, offer.state, "2", PLACES)
    assert [e.action for e in fresh.effects] == ["discard_draft"]
    assert fresh.state.node == "main_community" and fresh.state.answers == {}
    assert fresh.text.startswith(TREE.nodes["main_community"].text["fr"])


@pytest.mark.parametrize("answer", ["3", "0", "00", "", "yes"])
def test_anything_else_at_the_resume_question_asks_again(answer):
    draft = walk("community", "en", ["1", "1"])[-1].state
    offer = engine.offer_resume(TREE, draft, PLACES)
    again = engine.step(TREE, offer.state, answer, PLACES)
    assert again.text == TREE.string("invalid", "en") + "\n" + offer.text
    assert again.state.resume == offer.state.resume


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_notice_sits_above_the_first_screen(lang):
    plain = engine.start(TREE, "community", lang, PLACES)
    noticed = engine.start(TREE, "community", lang, PLACES, notice="not_registered")
    assert noticed.text == TREE.string("not_registered", lang) + "\n" + plain.text
    assert len(noticed.text) <= 182


def _mistypes(reference: str) -> list[str]:
    """Every reference one wrong digit or one swap of neighbours away."""
    wrong = [reference[:i] + d + reference[i + 1 :] for i in range(len(reference)) for d in "0123456789"]
    swaps = [reference[:i] + reference[i + 1] + reference[i] + reference[i + 2 :] for i in range(len(reference) - 1)]
    return sorted({r for r in wrong + swaps if r != reference})


@pytest.mark.parametrize("typed", [*_mistypes(VALID_REFERENCE), "123", "48302710", "abcdefg", "483 027"])
def test_a_mistyped_reference_is_refused_by_its_check_digit(typed):
    asked = walk("community", "en", ["2"])[-1]
    refused = engine.step(TREE, asked.state, typed, PLACES)
    assert not refused.end and not refused.effects
    assert refused.text == TREE.string("bad_reference", "en") + "\n" + asked.text


@pytest.mark.parametrize(
    ("typed", "accepted"), [("HH-12", True), ("abc", True), ("ab", False), ("HH 12", False), ("x" * 13, False)]
)
def test_household_codes_are_short_letters_digits_and_dashes(typed, accepted):
    asked = walk("volunteer", "en", ["2"], home=HOME)[-1]
    outcome = engine.step(TREE, asked.state, typed, PLACES)
    assert (outcome.state.node == "visit_living") is accepted
    if not accepted:
        assert outcome.text.startswith(TREE.string("bad_household", "en") + "\n")


def test_the_visit_summary_counts_the_concerns():
    outcome = walk("volunteer", "en", ["2", "HH-12", "2", "1", "2", "1", "1"], home=HOME)[-1]
    assert outcome.text.startswith("Household HH-12: 2 concern(s). Save the visit?")


def test_someone_unregistered_who_believes_they_are_a_volunteer_is_told_what_to_do():
    outcomes = walk("community", "en", ["4"])
    assert outcomes[0].text.endswith("4. IZU volunteers")
    told = outcomes[-1]
    assert told.text.startswith("Only registered IZU record home visits. Ask your sector to register this phone.")
    assert "1. Report a concern" in told.text
    assert engine.step(TREE, told.state, "1", PLACES).state.node == "category"


def test_state_survives_a_round_trip_through_a_dict():
    state = walk("community", "en", ["1", "1", "1", "2", "2", "1", "98"])[-1].state
    assert State.from_dict(state.to_dict()) == state


def test_a_state_dict_has_every_field_and_shares_nothing_with_the_state():
    draft = walk("volunteer", "en", ["1", "1", "1", "3"], home=HOME)[-1].state
    state = engine.offer_resume(TREE, draft, PLACES).state
    data = state.to_dict()
    assert set(data) == {f.name for f in fields(State)}
    assert data == asdict(state)
    data["resume"]["answers"]["category"] = "changed"
    data["home"]["name"] = "changed"
    assert state.resume is not None and state.resume["answers"]["category"] == "violence"
    assert state.home == HOME


@pytest.mark.parametrize("seed", range(5))
def test_pages_keep_every_line_in_order_and_within_the_screen(seed: int):
    rnd = random.Random(seed)
    items = [f"{i}. " + "x" * rnd.randint(1, 25) for i in range(1, rnd.randint(2, 60))]
    max_chars = 182
    budget = max_chars - engine.notice_room(TREE, "en")
    more, back = "98. " + TREE.string("more", "en"), TREE.string("back", "en")
    pages = engine.paginate(TREE, "en", "Choose the village:", items, False, max_chars)
    shown = []
    for number, page in enumerate(pages):
        lines = page.split("\n")
        assert lines[0] == "Choose the village:" and len(page) <= budget
        last = number == len(pages) - 1
        tail = ([] if last else [more]) + ([back] if number > 0 else [])
        assert lines[len(lines) - len(tail) :] == tail
        shown += lines[1 : len(lines) - len(tail)]
    assert shown == items
    if len(pages) > 1:  # a page is only cut when the next line would not fit
        first = pages[0].split("\n")
        assert len("\n".join([*first[:-1], items[len(first) - 2], more])) > budget
