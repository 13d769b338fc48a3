"""The node editor's form, read back into the tree's data.

Field names mirror the data: ``text.en``, ``end.fr``, ``opt.2.label.rw``; a checkbox
``review:<field>`` marks that text as awaiting review.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from menus.texts import Data, set_review, to_review
from menus.tree import CALLER_KINDS, NODE_TYPES

# Texts of an option, in form order.
OPTION_TEXTS = ("label", "end", "end_urgent")


class FormError(ValueError):
    """A field that cannot be read; the message says which and why."""


def _set(holder: dict[str, Any], name: str, value: Any) -> None:
    if value in (None, "", {}):
        holder.pop(name, None)
    else:
        holder[name] = value


def _texts(form: Mapping[str, str], prefix: str, langs: list[str]) -> dict[str, str]:
    return {lang: form.get(f"{prefix}.{lang}", "").replace("\r\n", "\n") for lang in langs}


def _number(form: Mapping[str, str], name: str, default: int) -> int:
    raw = form.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not 0 <= int(raw) <= 1000:
        raise FormError(f"{name.replace('_', ' ')} must be a whole number from 0 to 1000")
    return int(raw)


def _next(form: Mapping[str, str], prefix: str) -> str | dict[str, str] | None:
    if f"{prefix}.volunteer" in form:
        by_caller = {str(kind): form.get(f"{prefix}.{kind}", "").strip() for kind in CALLER_KINDS}
        return {k: v for k, v in by_caller.items() if v} or None
    return form.get(prefix, "").strip() or None


def apply_node(data: Data, node_id: str, form: Mapping[str, str], add_option: bool = False) -> None:
    """Change node node_id of data as the form says."""
    langs = [str(lang) for lang in data["languages"]]
    old = data["nodes"][node_id]
    pending = to_review(data)
    node_type = form.get("type", old.get("type", "menu"))
    if node_type not in NODE_TYPES:
        raise FormError(f"type must be one of {', '.join(NODE_TYPES)}")
    node: dict[str, Any] = {"type": node_type, "text": _texts(form, "text", langs)}
    _set(node, "store", form.get("store", "").strip())
    _set(node, "next", _next(form, "next"))
    if node_type == "input":
        node["check"] = form.get("check", "text").strip() or "text"
        node["min_length"] = _number(form, "min_length", 1)
        node["max_length"] = _number(form, "max_length", 160)
        _set(node, "skip_key", form.get("skip_key", "").strip())
    _set(node, "action", form.get("action", "").strip())
    end = _texts(form, "end", langs)
    if any(end.values()):
        node["end"] = end
    review: dict[str, bool] = {
        f"nodes.{node_id}.{f}.{lang}": f"review:{f}.{lang}" in form for f in ("text", "end") for lang in langs
    }
    options = []
    count = _number(form, "opt_count", 0)
    for i in range(count):
        if form.get(f"opt.{i}.remove"):
            continue
        key = form.get(f"opt.{i}.key", "").strip()
        if not key:
            raise FormError(f"option {i + 1} needs a key (the digit the caller types)")
        option: dict[str, Any] = {"key": key}
        _set(option, "value", form.get(f"opt.{i}.value", "").strip())
        option["label"] = _texts(form, f"opt.{i}.label", langs)
        _set(option, "next", _next(form, f"opt.{i}.next"))
        _set(option, "action", form.get(f"opt.{i}.action", "").strip())
        for field in ("end", "end_urgent"):
            texts = _texts(form, f"opt.{i}.{field}", langs)
            if any(texts.values()):
                option[field] = texts
        for field in OPTION_TEXTS:
            for lang in langs:
                review[f"nodes.{node_id}.options.{key}.{field}.{lang}"] = f"review:opt.{i}.{field}.{lang}" in form
        options.append(option)
    if add_option:
        used = {o["key"] for o in options}
        key = next(str(n) for n in range(1, 100) if str(n) not in used)
        options.append({"key": key, "label": dict.fromkeys(langs, "")})
    if node_type == "menu":
        node["options"] = options
    data["nodes"][node_id] = node
    # Texts of this node: the review boxes say; texts of other nodes keep their status.
    kept = {(tid, lang) for tid, lang in pending if not tid.startswith(f"nodes.{node_id}.")}
    marked = {(name.rsplit(".", 1)[0], name.rsplit(".", 1)[1]) for name, on in review.items() if on}
    set_review(data, kept | marked)


def apply_strings(data: Data, form: Mapping[str, str]) -> None:
    """Change the tree's own strings (notices, place questions, statuses ...) as the form says."""
    langs = [str(lang) for lang in data["languages"]]
    pending = to_review(data)
    for name in data["strings"]:
        data["strings"][name] = _texts(form, f"strings.{name}", langs)
    kept = {(tid, lang) for tid, lang in pending if not tid.startswith("strings.")}
    marked = {
        (f"strings.{name}", lang)
        for name in data["strings"]
        for lang in langs
        if f"review:strings.{name}.{lang}" in form
    }
    set_review(data, kept | marked)
