"""Every text of a tree by a stable id, and which of them await a native speaker's review.

Ids name where a text sits in the tree's data:
``strings.<name>``, ``nodes.<node>.text``, ``nodes.<node>.end`` and
``nodes.<node>.options.<key>.label`` (or ``.end``, ``.end_urgent``). They work on the
tree's plain data (the YAML mapping), which is what the editor and the translation files
change.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

Data = dict[str, Any]
# Text fields of a node and of an option, in screen order.
NODE_TEXTS = ("text", "end")
OPTION_TEXTS = ("label", "end", "end_urgent")


class TextIdError(KeyError):
    """No text of the tree has this id."""


def text_ids(data: Data) -> Iterator[tuple[str, dict[str, str]]]:
    """(id, texts by language) of every text of the tree, in reading order."""
    for name, texts in (data.get("strings") or {}).items():
        yield f"strings.{name}", texts
    for node_id, node in (data.get("nodes") or {}).items():
        for field in NODE_TEXTS:
            if isinstance(node.get(field), dict):
                yield f"nodes.{node_id}.{field}", node[field]
        for option in node.get("options") or []:
            for field in OPTION_TEXTS:
                if isinstance(option.get(field), dict):
                    yield f"nodes.{node_id}.options.{option['key']}.{field}", option[field]


def node_of(text_id: str) -> str | None:
    """The node a text belongs to (None for the tree's own strings)."""
    parts = text_id.split(".")
    return parts[1] if parts[0] == "nodes" and len(parts) > 2 else None


def find(data: Data, text_id: str) -> dict[str, str]:
    """The texts (by language) of text_id; raises TextIdError when the tree has none."""
    for found, texts in text_ids(data):
        if found == text_id:
            return texts
    raise TextIdError(text_id)


def to_review(data: Data) -> set[tuple[str, str]]:
    """(id, language) of every text awaiting review.

    ``needs_review`` is either a list of languages (every text of each: the shipped trees'
    older form) or a mapping of language to text ids.
    """
    raw = data.get("needs_review") or []
    if isinstance(raw, dict):
        return {(str(tid), str(lang)) for lang, ids in raw.items() for tid in ids or []}
    langs = {str(lang) for lang in raw}
    return {(tid, lang) for tid, texts in text_ids(data) for lang in texts if lang in langs}


def set_review(data: Data, pairs: set[tuple[str, str]]) -> None:
    """Write the per-text review status: pairs are the (id, language) still to review."""
    known = {tid for tid, _ in text_ids(data)}
    by_lang: dict[str, list[str]] = {}
    for tid, lang in sorted(pairs):
        if tid in known:
            by_lang.setdefault(lang, []).append(tid)
    data["needs_review"] = {lang: by_lang[lang] for lang in sorted(by_lang)}


def review_counts(data: Data) -> dict[str, int]:
    """How many texts of each language of the tree await review."""
    pending = to_review(data)
    return {str(lang): sum(1 for _, la in pending if la == lang) for lang in data.get("languages") or []}
