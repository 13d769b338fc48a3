"""The menu engine: step(tree, state, input) -> Outcome, with no I/O of its own.

The gateway keeps the State between hops and carries out the Outcome's effects
(store a report, remember a language); everything a caller sees is decided here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from copy import deepcopy
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any, Protocol

from menus.gsm import to_gsm7
from menus.reference import is_valid as is_valid_reference
from menus.tree import Node, Option, Tree

# What a caller types to go back one screen, to the main menu, or to the next page.
BACK = "0"
MAIN_MENU = "00"
MORE = "98"
# The pseudo-node of the "Continue your report?" question.
RESUME_NODE = "__resume__"
# Levels of the place picker, top down, and the string that asks for each.
PLACE_LEVELS = ("choose_district", "choose_sector", "choose_cell", "choose_village")
# Longest place label on a summary screen.
PLACE_LABEL_MAX = 30
# Longest typed answer echoed on a summary screen.
ECHO_MAX = 20
# Place lists whose lines and pages are remembered (the country has about 2,600 lists).
PLACE_LISTS_KEPT = 4096
# Notices shown above a screen after a wrong answer.
NOTICES = ("invalid", "too_short", "bad_reference", "bad_household")
_HOUSEHOLD = re.compile(r"^[A-Za-z0-9-]{3,12}$")
_PLACEHOLDER = re.compile(r"\{([a-z_.:]+)\}")


class Places(Protocol):
    """The place hierarchy the picker walks: districts, then sectors, cells, villages."""

    def children(self, parent: int | None) -> Sequence[tuple[int, str]]:
        """(id, name) of parent's children in display order; None gives the districts."""
        ...

    def label(self, place_id: int) -> str:
        """A short name for a place, e.g. "Ubumwe, Akabahizi"."""
        ...


@dataclass
class State:
    """Where a caller is in a tree, and what they answered so far."""

    node: str
    lang: str
    caller: str
    answers: dict[str, str] = field(default_factory=dict)
    trail: list[str] = field(default_factory=list)
    page: int = 0
    # Place picker: the ids chosen so far (district, sector, cell), and whether it is open.
    place: list[int] = field(default_factory=list)
    picking: bool = False
    # A volunteer's own village: {"id": ..., "name": ...}.
    home: dict[str, Any] | None = None
    # The draft a "Continue your report?" question would restore.
    resume: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """A plain copy (for JSON); written out field by field, as asdict is slow on a hot path."""
        return {
            "node": self.node,
            "lang": self.lang,
            "caller": self.caller,
            "answers": dict(self.answers),
            "trail": list(self.trail),
            "page": self.page,
            "place": list(self.place),
            "picking": self.picking,
            "home": None if self.home is None else dict(self.home),
            "resume": None if self.resume is None else deepcopy(self.resume),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> State:
        return cls(**data)


@dataclass(frozen=True)
class Effect:
    """Something for the gateway to carry out: submit_report, record_visit, ..."""

    action: str
    data: dict[str, Any]


@dataclass(frozen=True)
class Outcome:
    text: str
    end: bool
    state: State
    effects: tuple[Effect, ...] = ()

    @property
    def reply(self) -> str:
        return reply(self.end, self.text)


def reply(end: bool, text: str) -> str:
    """A screen as the network takes it: "END ..." closes the session, "CON ..." asks more."""
    return ("END " if end else "CON ") + text


@dataclass(frozen=True)
class Screen:
    """What the engine needs to know of the network: the longest screen."""

    max_chars: int = 182


def start(
    tree: Tree,
    caller: str,
    lang: str,
    places: Places,
    screen: Screen = Screen(),
    home: dict[str, Any] | None = None,
    notice: str | None = None,
) -> Outcome:
    """The first screen of a new session, under an optional notice (a tree string name)."""
    lang = lang if lang in tree.languages else tree.languages[0]
    state = State(node=tree.start[caller], lang=lang, caller=caller, home=home)
    return _show(tree, state, places, screen, notice=notice)


def resumable(tree: Tree, state: State) -> bool:
    """True while a report or visit is under way: worth offering again after a drop."""
    return bool(state.answers) and state.node != RESUME_NODE and state.node not in tree.start.values()


def offer_resume(tree: Tree, draft: State, places: Places, screen: Screen = Screen()) -> Outcome:
    """The "Continue your report?" question, holding draft until it is answered."""
    state = State(
        node=RESUME_NODE,
        lang=draft.lang,
        caller=draft.caller,
        home=draft.home,
        resume=draft.to_dict(),
    )
    return _show(tree, state, places, screen)


def step(tree: Tree, state: State, text: str, places: Places, screen: Screen = Screen()) -> Outcome:
    """The caller answered text on the current screen: the next screen and effects."""
    state = replace(state, answers=dict(state.answers), trail=list(state.trail), place=list(state.place))
    answer = text.strip()
    if state.node == RESUME_NODE:
        return _answer_resume(tree, state, answer, places, screen)
    node = tree.nodes[state.node]
    if answer == MAIN_MENU:
        return start(tree, state.caller, state.lang, places, screen, state.home)
    if answer == BACK:
        return _back(tree, state, node, places, screen)
    if answer == MORE and _has_more(tree, state, node, places, screen):
        state.page += 1
        return _show(tree, state, places, screen)
    if node.type == "menu":
        return _answer_menu(tree, state, node, answer, places, screen)
    if node.type == "input":
        return _answer_input(tree, state, node, answer, places, screen)
    return _answer_place(tree, state, node, answer, places, screen)


# --- answers -----------------------------------------------------------------------


def _answer_resume(tree: Tree, state: State, answer: str, places: Places, screen: Screen) -> Outcome:
    if answer == "1" and state.resume:
        draft = State.from_dict(state.resume)
        return _show(tree, draft, places, screen, effects=(Effect("resume_draft", {}),))
    if answer == "2":
        fresh = start(tree, state.caller, state.lang, places, screen, state.home)
        return replace(fresh, effects=(Effect("discard_draft", {}),))
    return _show(tree, state, places, screen, notice="invalid")


def _answer_menu(tree: Tree, state: State, node: Node, answer: str, places: Places, screen: Screen) -> Outcome:
    option = next((o for o in node.options if o.key == answer), None)
    if option is None:
        return _show(tree, state, places, screen, notice="invalid")
    if node.store:
        state.answers[node.store] = option.value if option.value is not None else option.key
    effects: tuple[Effect, ...] = ()
    if option.action == "set_language" and option.value:
        state.lang = option.value
        effects = (Effect("set_language", {"lang": option.value}),)
    elif option.action:
        return _finish(tree, state, option, option.action)
    elif option.end:
        return Outcome(_fill(tree, state, option.end[state.lang], places), True, state)
    target = option.next_for(state.caller) or node.next_for(state.caller)
    return _goto(tree, state, target, places, screen, effects)


def _answer_input(tree: Tree, state: State, node: Node, answer: str, places: Places, screen: Screen) -> Outcome:
    if node.skip_key is not None and answer == node.skip_key:
        if node.store:
            state.answers.pop(node.store, None)
        return _goto(tree, state, node.next_for(state.caller), places, screen)
    if node.check == "reference" and not is_valid_reference(answer):
        return _show(tree, state, places, screen, notice="bad_reference")
    if node.check == "household" and not _HOUSEHOLD.match(answer):
        return _show(tree, state, places, screen, notice="bad_household")
    if len(answer) < node.min_length:
        return _show(tree, state, places, screen, notice="too_short")
    value = answer[: node.max_length]
    if node.store:
        state.answers[node.store] = value
    if node.action:
        effect = Effect(node.action, {"caller": state.caller, **state.answers})
        text = node.end[state.lang] if node.end else ""
        return Outcome(_fill(tree, state, text, places), True, state, (effect,))
    return _goto(tree, state, node.next_for(state.caller), places, screen)


def _answer_place(tree: Tree, state: State, node: Node, answer: str, places: Places, screen: Screen) -> Outcome:
    if not state.picking and state.home:
        if answer == "1":
            return _choose_place(tree, state, node, int(state.home["id"]), places, screen)
        if answer == "2":
            state.picking, state.place, state.page = True, [], 0
            return _show(tree, state, places, screen)
        return _show(tree, state, places, screen, notice="invalid")
    choices = places.children(state.place[-1] if state.place else None)
    if not answer.isdigit() or not 1 <= int(answer) <= len(choices):
        return _show(tree, state, places, screen, notice="invalid")
    chosen = choices[int(answer) - 1][0]
    if len(state.place) == len(PLACE_LEVELS) - 1:
        return _choose_place(tree, state, node, chosen, places, screen)
    state.place.append(chosen)
    state.page = 0
    return _show(tree, state, places, screen)


def _choose_place(tree: Tree, state: State, node: Node, place_id: int, places: Places, screen: Screen) -> Outcome:
    if node.store:
        state.answers[node.store] = str(place_id)
    state.picking, state.place = False, []
    return _goto(tree, state, node.next_for(state.caller), places, screen)


def _finish(tree: Tree, state: State, option: Option, action: str) -> Outcome:
    """An action that closes the session: the END screen waits for the gateway's values."""
    effect = Effect(action, {"caller": state.caller, **state.answers})
    urgent = state.answers.get("urgent") == "yes"
    texts = option.end_urgent if urgent and option.end_urgent else option.end
    text = texts[state.lang] if texts else ""
    return Outcome(text, True, state, (effect,))


# --- movement ----------------------------------------------------------------------


def _goto(
    tree: Tree,
    state: State,
    target: str | None,
    places: Places,
    screen: Screen,
    effects: tuple[Effect, ...] = (),
) -> Outcome:
    if target is None:
        return start(tree, state.caller, state.lang, places, screen, state.home)
    if target == tree.start[state.caller]:
        state.trail = []
    else:
        state.trail.append(state.node)
    state.node, state.page, state.picking, state.place = target, 0, False, []
    return _show(tree, state, places, screen, effects=effects)


def _back(tree: Tree, state: State, node: Node, places: Places, screen: Screen) -> Outcome:
    if state.page > 0:
        state.page -= 1
    elif node.type == "place" and state.picking and state.place:
        state.place.pop()
    elif node.type == "place" and state.picking and state.home:
        state.picking = False
    elif state.trail:
        state.node = state.trail.pop()
        state.picking, state.place = False, []
        if not state.trail:
            # Back on the main menu: nothing is under way any more.
            state.answers = {}
    return _show(tree, state, places, screen)


# --- screens -----------------------------------------------------------------------


def _show(
    tree: Tree,
    state: State,
    places: Places,
    screen: Screen,
    notice: str | None = None,
    effects: tuple[Effect, ...] = (),
) -> Outcome:
    pages = _pages(tree, state, places, screen)
    state.page = min(state.page, len(pages) - 1)
    text = pages[state.page]
    if notice:
        text = tree.string(notice, state.lang) + "\n" + text
    return Outcome(text, False, state, effects)


def _has_more(tree: Tree, state: State, node: Node, places: Places, screen: Screen) -> bool:
    return state.page + 1 < len(_pages(tree, state, places, screen))


def _pages(tree: Tree, state: State, places: Places, screen: Screen) -> Sequence[str]:
    """The current screen, in pages."""
    header, items, back = _layout(tree, state, places)
    if isinstance(items, tuple):
        # A place list (_place_lines): the same lists are paged on every hop, and they hold
        # no caller's text, so their pages are remembered.
        budget = screen.max_chars - notice_room(tree, state.lang)
        return _place_pages(header, items, _more_line(tree, state.lang), tree.string("back", state.lang), budget)
    return paginate(tree, state.lang, header, items, back, screen.max_chars)


def _layout(tree: Tree, state: State, places: Places) -> tuple[str, Sequence[str], bool]:
    """The header, the numbered lines (a tuple for a place list) and whether a back line
    belongs on the screen."""
    lang = state.lang
    can_go_back = bool(state.trail) or state.page > 0 or bool(state.place) or state.picking
    if state.node == RESUME_NODE:
        lines = [f"1. {tree.string('resume_yes', lang)}", f"2. {tree.string('resume_restart', lang)}"]
        return tree.string("resume", lang), lines, False
    node = tree.nodes[state.node]
    if node.type == "place":
        if state.home and not state.picking:
            mine = tree.string("my_village", lang) + f" ({to_gsm7(str(state.home['name']))})"
            return (
                _fill(tree, state, node.text[lang], places),
                [f"1. {mine}", f"2. {tree.string('another_place', lang)}"],
                can_go_back,
            )
        level = PLACE_LEVELS[len(state.place)]
        children = places.children(state.place[-1] if state.place else None)
        return tree.string(level, lang), _place_lines(tuple(name for _, name in children)), True
    header = _fill(tree, state, node.text[lang], places)
    lines = [f"{o.key}. {o.label[lang]}" for o in node.options]
    return header, lines, can_go_back


@lru_cache(maxsize=PLACE_LISTS_KEPT)
def _place_lines(names: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f"{i}. {to_gsm7(name)}" for i, name in enumerate(names, start=1))


@lru_cache(maxsize=PLACE_LISTS_KEPT)
def _place_pages(header: str, lines: tuple[str, ...], more: str, back_line: str, budget: int) -> tuple[str, ...]:
    return tuple(_split(header, lines, True, more, back_line, budget))


def _more_line(tree: Tree, lang: str) -> str:
    return f"{MORE}. {tree.string('more', lang)}"


def paginate(tree: Tree, lang: str, header: str, items: Sequence[str], back: bool, max_chars: int) -> list[str]:
    """Screens of at most max_chars, keeping room for the longest notice; 98 pages on."""
    budget = max_chars - notice_room(tree, lang)
    return _split(header, items, back, _more_line(tree, lang), tree.string("back", lang), budget)


def _split(header: str, items: Sequence[str], back: bool, more: str, back_line: str, budget: int) -> list[str]:
    """Screens of at most budget characters: header, lines, "98. More" and back lines."""
    pages: list[str] = []
    # Lengths are added up rather than joined: a long place list is read on many hops.
    sizes = [len(line) + 1 for line in items]
    left = sum(sizes)
    start = 0
    while True:
        tail = [back_line] if back or pages else []
        tail_chars = sum(len(line) + 1 for line in tail)
        if start == len(items) or len(header) + left + tail_chars <= budget:
            pages.append("\n".join([header, *items[start:], *tail]))
            return pages
        used = len(header) + len(more) + 1 + tail_chars
        end = start
        while end < len(items) and used + sizes[end] <= budget:
            used += sizes[end]
            end += 1
        end = max(end, start + 1)
        left -= sum(sizes[start:end])
        pages.append("\n".join([header, *items[start:end], more, *tail]))
        start = end


def notice_room(tree: Tree, lang: str) -> int:
    """Characters kept free on every screen for a notice and its line break."""
    return max(len(tree.string(n, lang)) for n in NOTICES) + 1


def _fill(tree: Tree, state: State, text: str, places: Places) -> str:
    """Put the caller's answers, as labels, in a text's {placeholders}."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith("count:"):
            wanted = name.split(":", 1)[1]
            return str(sum(1 for v in state.answers.values() if v == wanted))
        if name not in state.answers:
            return match.group(0)
        return answer_label(tree, state.lang, name, state.answers[name], places)

    return _PLACEHOLDER.sub(value, text)


def answer_label(tree: Tree, lang: str, store: str, value: str, places: Places) -> str:
    """How an answer reads on a screen: its option label, place name or typed text."""
    node = tree.storing_node(store)
    if node is None or node.type == "input":
        return to_gsm7(value)[:ECHO_MAX]
    if node.type == "place":
        return to_gsm7(places.label(int(value)))[:PLACE_LABEL_MAX]
    option = next((o for o in node.options if (o.value or o.key) == value), None)
    return option.label[lang] if option else value
