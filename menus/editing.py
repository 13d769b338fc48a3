"""Changes an editor makes to a tree's plain data (the YAML mapping), and back to YAML.

Each function changes data in place; the validator judges the result.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from menus.texts import Data

# libyaml's safe loader and dumper when PyYAML was built with it (much faster).
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
# What a node id may look like (it is also a name in the YAML).
NODE_ID = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


class EditError(ValueError):
    """A change that cannot be made; the message says why."""


def load(source: str) -> Data:
    data = yaml.load(source, Loader=_Loader)
    if not isinstance(data, dict):
        raise EditError("a tree is a mapping")
    return data


def dump(data: Data) -> str:
    """YAML of data, keys in their order, texts as they are (no line folding)."""
    return str(yaml.dump(data, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=10_000))


def blank_text(data: Data) -> dict[str, str]:
    return {str(lang): "" for lang in data.get("languages") or []}


def add_node(data: Data, node_id: str, node_type: str) -> None:
    """A new node with empty texts (the validator asks for them and for a way in)."""
    if not NODE_ID.match(node_id):
        raise EditError("a node id is a lower-case letter, then letters, digits or _ (at most 40)")
    if node_id in data["nodes"]:
        raise EditError(f"there is already a node {node_id!r}")
    node: dict[str, Any] = {"type": node_type, "text": blank_text(data)}
    if node_type == "menu":
        node["options"] = [{"key": "1", "label": blank_text(data)}]
    data["nodes"][node_id] = node


def _retarget(next_: Any, old: str, new: str | None) -> Any:
    if isinstance(next_, dict):
        return {k: (new if v == old else v) for k, v in next_.items() if not (v == old and new is None)} or None
    return new if next_ == old else next_


def remove_node(data: Data, node_id: str) -> None:
    """Remove a node; what led to it now leads where it led (its own next, if it had one)."""
    nodes = data["nodes"]
    if node_id not in nodes:
        raise EditError(f"there is no node {node_id!r}")
    if node_id in (data.get("start") or {}).values():
        raise EditError(f"{node_id!r} is where callers start; it cannot be removed")
    gone = nodes.pop(node_id)
    onward = gone.get("next") if isinstance(gone.get("next"), str) else None
    for node in nodes.values():
        for holder in [node, *(node.get("options") or [])]:
            if "next" in holder:
                holder["next"] = _retarget(holder["next"], node_id, onward)
                if holder["next"] is None:
                    del holder["next"]


def rename_option_key(node: dict[str, Any], old: str, new: str) -> None:
    for option in node.get("options") or []:
        if option.get("key") == old:
            option["key"] = new
