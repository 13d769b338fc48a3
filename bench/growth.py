"""Bigger worlds for the webhook-cost part: a tree with more nodes, places with more villages."""

from __future__ import annotations

import copy
import math
from typing import Any

import yaml

from gateway.registry.places import Place, PlaceIndex
from menus.tree import TREES_DIR

# The report's chain of nodes, from the category (every path to a report must ask it), copied to grow a tree.
REPORT_CHAIN = ("category", "danger", "age", "sex", "place", "details", "callback", "confirm")
# Options per hub menu of the copies.
HUB_FANOUT = 8


def _text(word: str) -> dict[str, str]:
    return {"rw": word, "en": word, "fr": word}


def grown_tree_source(factor: int) -> str:
    """The shipped tree with about factor times its nodes, still valid: copies of the report
    chain hang below menus reached from a fifth option of the volunteers' main menu."""
    source = (TREES_DIR / "default.yaml").read_text(encoding="utf-8")
    if factor <= 1:
        return source
    data: dict[str, Any] = yaml.safe_load(source)
    nodes: dict[str, Any] = data["nodes"]
    wanted = len(nodes) * factor
    # Each copy brings its chain and a share of a hub menu.
    copies = math.ceil((wanted - len(nodes)) * HUB_FANOUT / (len(REPORT_CHAIN) * HUB_FANOUT + 1))
    heads = []
    for k in range(copies):
        for name in REPORT_CHAIN:
            node = copy.deepcopy(nodes[name])
            if isinstance(node.get("next"), str):
                node["next"] = f"{node['next']}_{k}"
            elif isinstance(node.get("next"), dict):
                node["next"] = {kind: f"{target}_{k}" for kind, target in node["next"].items()}
            nodes[f"{name}_{k}"] = node
        heads.append(f"{REPORT_CHAIN[0]}_{k}")
    # Menus of HUB_FANOUT options each, level by level, until one hub reaches every copy.
    level, depth = heads, 0
    while len(level) > 1 or depth == 0:
        hubs = []
        for h in range(math.ceil(len(level) / HUB_FANOUT)):
            hub_id = f"hub_{depth}_{h}"
            targets = level[h * HUB_FANOUT : (h + 1) * HUB_FANOUT]
            nodes[hub_id] = {
                "text": _text("Topics"),
                "options": [
                    {"key": str(i), "label": _text(f"Topic {i}"), "next": t} for i, t in enumerate(targets, start=1)
                ],
            }
            hubs.append(hub_id)
        level, depth = hubs, depth + 1
    nodes["main_volunteer"]["options"].append({"key": "5", "label": _text("Topics"), "next": level[0]})
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


class GrownPlaces(PlaceIndex):
    """The place index with copies times the villages: each cell's villages again, renamed."""

    def __init__(self, *args: Any, copies: int = 1, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.copies = copies
        # Ids from here on are copies (no row in the database).
        self.first_copy_id: int | None = None

    def _load(self) -> None:
        super()._load()
        if self.copies <= 1:
            return
        by_id, children = dict(self._by_id), {k: list(v) for k, v in self._children.items()}
        next_id = self.first_copy_id = max(by_id) + 1
        for village in [p for p in self._by_id.values() if p.level == "village"]:
            for k in range(2, self.copies + 1):
                twin = Place(next_id, "village", f"{village.name} {k}", village.parent_id)
                by_id[next_id] = twin
                children[village.parent_id].append((next_id, twin.name))
                next_id += 1
        for siblings in children.values():
            siblings.sort(key=lambda item: item[1].casefold())
        self._by_id, self._children = by_id, children

    def village_count(self) -> int:
        self._ensure()
        return sum(1 for p in self._by_id.values() if p.level == "village")
