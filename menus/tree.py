"""A menu tree: nodes, options and every string in every language, loaded from YAML."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from menus.texts import to_review
from menus.vocabulary import CallerKind

# libyaml's loader when PyYAML was built with it: about five times faster.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# Where the shipped trees live.
TREES_DIR = Path(__file__).parent / "trees"
# Node types the engine knows.
NODE_TYPES = ("menu", "input", "place")
# Caller kinds a tree can start and branch on.
CALLER_KINDS = tuple(kind.value for kind in CallerKind)
# Actions a tree may ask the gateway to carry out.
ACTIONS = ("submit_report", "record_visit", "check_report", "set_language")
# Named checks for free-text input.
INPUT_CHECKS = ("text", "reference", "household")
# Strings the engine itself needs from every tree.
ENGINE_STRINGS = (
    "invalid",
    "too_short",
    "bad_reference",
    "bad_household",
    "more",
    "back",
    "choose_district",
    "choose_sector",
    "choose_cell",
    "choose_village",
    "my_village",
    "another_place",
    "resume",
    "resume_yes",
    "resume_restart",
    "session_error",
)

Text = dict[str, str]


class TreeError(ValueError):
    """A tree's data is not shaped as a tree."""


@dataclass(frozen=True)
class Option:
    key: str
    label: Text
    # The next node: one id, or one per caller kind.
    next: str | dict[str, str] | None = None
    value: str | None = None
    action: str | None = None
    end: Text | None = None
    end_urgent: Text | None = None

    def next_for(self, caller: str) -> str | None:
        if isinstance(self.next, dict):
            return self.next.get(caller)
        return self.next


@dataclass(frozen=True)
class Node:
    id: str
    type: str
    text: Text
    options: tuple[Option, ...] = ()
    # The answer this node records, under this name.
    store: str | None = None
    next: str | dict[str, str] | None = None
    # input nodes: the named check, length limits, optional skip key and its value.
    check: str = "text"
    min_length: int = 1
    max_length: int = 160
    skip_key: str | None = None
    action: str | None = None
    end: Text | None = None

    def next_for(self, caller: str) -> str | None:
        if isinstance(self.next, dict):
            return self.next.get(caller)
        return self.next


@dataclass(frozen=True)
class Tree:
    name: str
    languages: tuple[str, ...]
    start: dict[str, str]
    nodes: dict[str, Node]
    strings: dict[str, Text]
    # Languages with texts that still await a native speaker's review.
    needs_review: tuple[str, ...] = ()
    # (text id, language) of every text awaiting review (menus.texts names the ids).
    to_review: frozenset[tuple[str, str]] = frozenset()
    # Keys of a summary screen: each stored answer, by the node that stores it.
    source: str = field(default="", repr=False)

    @property
    def version(self) -> str:
        """The tree's content hash: the same content is the same version."""
        return hashlib.sha1(self.source.encode("utf-8")).hexdigest()

    def string(self, key: str, lang: str) -> str:
        return self.strings[key][lang]

    def storing_node(self, store: str) -> Node | None:
        for node in self.nodes.values():
            if node.store == store:
                return node
        return None


def _text(raw: Any, where: str) -> Text:
    if not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
        raise TreeError(f"{where}: expected a string per language")
    return {str(k): v for k, v in raw.items()}


def _next(raw: Any, where: str) -> str | dict[str, str] | None:
    if raw is None or isinstance(raw, str):
        return raw
    if isinstance(raw, dict):
        return {str(k): str(v) for k, v in raw.items()}
    raise TreeError(f"{where}: next must be a node id or one per caller kind")


def _option(raw: Any, where: str) -> Option:
    if not isinstance(raw, dict) or "key" not in raw or "label" not in raw:
        raise TreeError(f"{where}: an option needs a key and a label")
    return Option(
        key=str(raw["key"]),
        label=_text(raw["label"], f"{where}.label"),
        next=_next(raw.get("next"), where),
        value=None if raw.get("value") is None else str(raw["value"]),
        action=raw.get("action"),
        end=_text(raw["end"], f"{where}.end") if "end" in raw else None,
        end_urgent=_text(raw["end_urgent"], f"{where}.end_urgent") if "end_urgent" in raw else None,
    )


def _node(node_id: str, raw: Any) -> Node:
    if not isinstance(raw, dict):
        raise TreeError(f"node {node_id}: expected a mapping")
    options = tuple(_option(o, f"node {node_id} option {i + 1}") for i, o in enumerate(raw.get("options") or []))
    return Node(
        id=node_id,
        type=str(raw.get("type", "menu")),
        text=_text(raw.get("text", {}), f"node {node_id}.text"),
        options=options,
        store=raw.get("store"),
        next=_next(raw.get("next"), f"node {node_id}"),
        check=str(raw.get("check", "text")),
        min_length=int(raw.get("min_length", 1)),
        max_length=int(raw.get("max_length", 160)),
        skip_key=None if raw.get("skip_key") is None else str(raw["skip_key"]),
        action=raw.get("action"),
        end=_text(raw["end"], f"node {node_id}.end") if "end" in raw else None,
    )


def parse_tree(source: str) -> Tree:
    """A Tree from YAML text; raises TreeError when the shape is wrong."""
    try:
        raw = yaml.load(source, Loader=_Loader)
    except yaml.YAMLError as exc:
        raise TreeError(f"not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise TreeError("a tree is a mapping with name, languages, start, strings and nodes")
    for key in ("name", "languages", "start", "nodes", "strings"):
        if key not in raw:
            raise TreeError(f"the tree has no {key!r}")
    nodes = raw["nodes"]
    if not isinstance(nodes, dict):
        raise TreeError("nodes must be a mapping of node id to node")
    strings = raw["strings"]
    if not isinstance(strings, dict):
        raise TreeError("strings must be a mapping of name to texts")
    parsed_nodes = {str(k): _node(str(k), v) for k, v in nodes.items()}
    parsed_strings = {str(k): _text(v, f"string {k}") for k, v in strings.items()}
    try:
        pending = frozenset(to_review(raw))
    except (AttributeError, TypeError):
        raise TreeError("needs_review must list languages or map a language to text ids") from None
    return Tree(
        name=str(raw["name"]),
        languages=tuple(str(lang) for lang in raw["languages"]),
        start={str(k): str(v) for k, v in dict(raw["start"]).items()},
        nodes=parsed_nodes,
        strings=parsed_strings,
        needs_review=tuple(sorted({lang for _, lang in pending})),
        to_review=pending,
        source=source,
    )


def load_tree(path: str | Path) -> Tree:
    return parse_tree(Path(path).read_text(encoding="utf-8"))


def shipped_trees() -> list[Path]:
    return sorted(TREES_DIR.glob("*.yaml"))


def default_tree() -> Tree:
    return load_tree(TREES_DIR / "default.yaml")
