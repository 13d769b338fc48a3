"""Whole report sessions, hop by hop, as a caller would type them on the real tree and places.

Each path is worked out by playing the engine itself (no server): a registered volunteer
picks "My village"; a community caller pages district -> sector -> cell -> village, sending
98 until the place wanted is on the screen.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from menus import engine
from menus.engine import Places, Screen
from menus.tree import Tree

# Free text a caller may type (the second holds a '*', as the field does).
DETAILS = ("1", "Seen near the market*house 12", "Child alone at night", "1")
# A path longer than this means the generator is lost.
MAX_HOPS = 80


@dataclass(frozen=True)
class SessionPath:
    kind: str  # "volunteer" or "community"
    inputs: tuple[str, ...]
    place_id: int


def random_village(places: Places, rng: random.Random, below: int | None = None) -> list[int]:
    """[district, sector, cell, village] ids of a village picked level by level (ids under below)."""
    chain: list[int] = []
    for _ in engine.PLACE_LEVELS:
        children = places.children(chain[-1] if chain else None)
        chain.append(rng.choice([pid for pid, _ in children if below is None or pid < below]))
    return chain


def report_path(
    tree: Tree,
    places: Places,
    kind: str,
    lang: str,
    rng: random.Random,
    home: dict[str, Any] | None = None,
    max_chars: int = 182,
    below: int | None = None,
) -> SessionPath:
    """The inputs of one whole report session that ends on the confirm screen's "send"."""
    screen = Screen(max_chars=max_chars)
    category = tree.storing_node("category")
    assert category is not None, "the tree stores no category"
    chain = random_village(places, rng, below) if kind == "community" else []
    place_id = chain[-1] if chain else int(home["id"]) if home else 0
    outcome = engine.start(tree, kind, lang, places, screen, home)
    inputs: list[str] = []
    while not outcome.end:
        if len(inputs) >= MAX_HOPS:
            raise RuntimeError(f"no END after {MAX_HOPS} hops: {inputs}")
        answer = _answer(tree, places, outcome, category.id, chain, rng)
        inputs.append(answer)
        outcome = engine.step(tree, outcome.state, answer, places, screen)
    if not any(e.action == "submit_report" for e in outcome.effects):
        raise RuntimeError(f"the path did not submit a report: {inputs}")
    return SessionPath(kind, tuple(inputs), place_id)


def _answer(
    tree: Tree, places: Places, outcome: engine.Outcome, category: str, chain: list[int], rng: random.Random
) -> str:
    state = outcome.state
    node = tree.nodes[state.node]
    if node.type == "place":
        if state.home and not state.picking:
            return "1"  # My village
        level = len(state.place)
        children = places.children(state.place[-1] if state.place else None)
        number = next(i for i, (pid, _) in enumerate(children, start=1) if pid == chain[level])
        shown = any(line.startswith(f"{number}. ") for line in outcome.text.splitlines())
        return str(number) if shown else engine.MORE
    if node.type == "input":
        return rng.choice(DETAILS)
    submit = [o for o in node.options if o.action == "submit_report"]
    if submit:
        return submit[0].key
    if node.store:
        return rng.choice(node.options).key
    to_report = [o for o in node.options if o.next_for(state.caller) == category]
    if to_report:
        return to_report[0].key
    raise RuntimeError(f"no way to a report from node {node.id}")


def mixed_paths(
    tree: Tree,
    places: Places,
    count: int,
    volunteer_share: float,
    home: dict[str, Any],
    community_lang: str,
    seed: int = 801,
    below: int | None = None,
) -> list[SessionPath]:
    """count paths, volunteer_share of them by registered volunteers (any volunteer: "My village")."""
    rng = random.Random(seed)
    paths = []
    for i in range(count):
        if i < round(count * volunteer_share):
            paths.append(report_path(tree, places, "volunteer", community_lang, rng, home))
        else:
            paths.append(report_path(tree, places, "community", community_lang, rng, below=below))
    rng.shuffle(paths)
    return paths


def write_data_file(target: Path, paths: Sequence[SessionPath], volunteer_phones: Sequence[str]) -> None:
    """The file bench/ussd.lua reads: "V<tab>phone" lines, then "P<tab>kind<tab>input..." lines."""
    lines = [f"V\t{phone}" for phone in volunteer_phones]
    for path in paths:
        if any("\t" in i or "\n" in i for i in path.inputs):
            raise ValueError("an input holds a tab or a line break")
        lines.append("\t".join(["P", path.kind, *path.inputs]))
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
