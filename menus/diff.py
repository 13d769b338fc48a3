"""What changed between two trees, node by node and language by language."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from menus.texts import Data, node_of, text_ids

# Fields of a node or an option that are not texts, compared as they are.
NODE_FIELDS = ("type", "store", "next", "check", "min_length", "max_length", "skip_key", "action")
OPTION_FIELDS = ("value", "next", "action")


@dataclass(frozen=True)
class Change:
    """One difference: where (a text id or a field), the language for a text, old and new."""

    where: str
    lang: str | None
    old: str
    new: str


@dataclass
class NodeDiff:
    """The changes of one node (or of the tree's own strings, node "strings")."""

    node: str
    status: str = "changed"  # "added", "removed" or "changed"
    changes: list[Change] = field(default_factory=list)


def _show(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items())
    return str(value)


def diff(old: Data, new: Data) -> list[NodeDiff]:
    """Every node whose texts or fields differ between old and new, in new's order."""
    result: dict[str, NodeDiff] = {}

    def entry(node: str) -> NodeDiff:
        return result.setdefault(node, NodeDiff(node))

    old_nodes, new_nodes = old.get("nodes") or {}, new.get("nodes") or {}
    for node_id in new_nodes:
        if node_id not in old_nodes:
            entry(node_id).status = "added"
    for node_id in old_nodes:
        if node_id not in new_nodes:
            entry(node_id).status = "removed"
    langs = list(dict.fromkeys([*(old.get("languages") or []), *(new.get("languages") or [])]))
    old_texts, new_texts = dict(text_ids(old)), dict(text_ids(new))
    for tid in dict.fromkeys([*new_texts, *old_texts]):
        before, after = old_texts.get(tid, {}), new_texts.get(tid, {})
        for lang in langs:
            if before.get(lang, "") != after.get(lang, ""):
                entry(node_of(tid) or "strings").changes.append(
                    Change(tid, lang, before.get(lang, ""), after.get(lang, ""))
                )
    for node_id in dict.fromkeys([*new_nodes, *old_nodes]):
        before_node, after_node = old_nodes.get(node_id) or {}, new_nodes.get(node_id) or {}
        for name in NODE_FIELDS:
            if before_node.get(name) != after_node.get(name):
                entry(node_id).changes.append(
                    Change(name, None, _show(before_node.get(name)), _show(after_node.get(name)))
                )
        before_options = {o["key"]: o for o in before_node.get("options") or []}
        after_options = {o["key"]: o for o in after_node.get("options") or []}
        for key in dict.fromkeys([*after_options, *before_options]):
            a, b = before_options.get(key), after_options.get(key)
            if a is None or b is None:
                entry(node_id).changes.append(
                    Change(f"option {key}", None, "" if a is None else "(option)", "" if b is None else "(option)")
                )
                continue
            for name in OPTION_FIELDS:
                if a.get(name) != b.get(name):
                    entry(node_id).changes.append(
                        Change(f"option {key} {name}", None, _show(a.get(name)), _show(b.get(name)))
                    )
    order = ["strings", *new_nodes, *old_nodes]
    return sorted(result.values(), key=lambda d: order.index(d.node) if d.node in order else len(order))
