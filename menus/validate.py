"""The validator: a tree is published only when every screen of every language is fit."""

from __future__ import annotations

import re
from collections.abc import Iterator

from menus import semantics
from menus.engine import ECHO_MAX, NOTICES, PLACE_LABEL_MAX, PLACE_LEVELS, paginate
from menus.gsm import outside_gsm7
from menus.reference import BODY_DIGITS
from menus.tree import (
    ACTIONS,
    CALLER_KINDS,
    ENGINE_STRINGS,
    INPUT_CHECKS,
    NODE_TYPES,
    Node,
    Text,
    Tree,
)
from menus.vocabulary import AgeBand, Category, Language, Sex, VisitDomain

# Strings the gateway shows as the answer to "Check a report".
STATUS_STRINGS = (
    "status_received",
    "status_routed",
    "status_acknowledged",
    "status_closed",
    "status_not_found",
)
# Every string a tree must carry: the notice a deactivated volunteer sees above the
# community menu, and the SMS that tells a volunteer how to continue a dropped report.
REQUIRED_STRINGS = (*ENGINE_STRINGS, *STATUS_STRINGS, "not_registered", "resume_sms")
# Longest SMS: one GSM-7 segment.
SMS_MAX_CHARS = 160
# The answers the gateway reads, and the words each may hold (a visit stores domain_<domain>).
STORED_VALUES: dict[str, tuple[str, ...]] = {
    "category": tuple(Category),
    "age_band": tuple(AgeBand),
    "sex": tuple(Sex),
    "urgent": semantics.URGENCY,
    **{f"domain_{domain}": semantics.DOMAIN_ANSWERS for domain in VisitDomain},
}
_PLACEHOLDER = re.compile(r"\{([a-z_.:]+)\}")


def validate(tree: Tree, max_chars: int = 182) -> list[str]:
    """Every problem of the tree, one sentence each; an empty list means publishable."""
    problems = list(_structure(tree))
    if problems:
        return problems
    problems += semantics.check(tree)
    problems += _texts(tree)
    if any(p.endswith(" text") and ": no " in p for p in problems):
        # Screens cannot be measured in a language that lacks texts.
        return problems
    problems += _screens(tree, max_chars)
    return problems


def _structure(tree: Tree) -> Iterator[str]:
    if not tree.languages:
        yield "the tree names no language"
    for lang in tree.languages:
        if lang not in tuple(Language):
            yield f"language {lang!r} is not one of {', '.join(Language)}"
    for kind in CALLER_KINDS:
        if kind not in tree.start:
            yield f"start: no first node for {kind} callers"
        elif tree.start[kind] not in tree.nodes:
            yield f"start: {kind} begins at missing node {tree.start[kind]!r}"
    for key in REQUIRED_STRINGS:
        if key not in tree.strings:
            yield f"strings: {key!r} is missing"
    for node in tree.nodes.values():
        where = f"node {node.id}"
        if node.type not in NODE_TYPES:
            yield f"{where}: unknown type {node.type!r}"
        if node.type == "menu" and not node.options:
            yield f"{where}: a menu needs options"
        if node.type == "input" and node.check not in INPUT_CHECKS:
            yield f"{where}: unknown check {node.check!r}"
        if node.action and node.action not in ACTIONS:
            yield f"{where}: unknown action {node.action!r}"
        allowed = STORED_VALUES.get(node.store or "")
        for option in node.options:
            value = option.value or option.key
            if allowed and node.type == "menu" and value not in allowed:
                yield f"{where}: option {option.key} stores {value!r}, not one of {', '.join(allowed)}"
            if option.action == "set_language" and value not in tuple(Language):
                yield f"{where}: option {option.key} sets language {value!r}, not one of {', '.join(Language)}"
        keys = [o.key for o in node.options]
        for key in sorted({k for k in keys if keys.count(k) > 1}):
            yield f"{where}: option key {key!r} is used twice"
        for option in node.options:
            if option.key in ("0", "00", "98"):
                yield f"{where}: option key {option.key!r} is kept for navigation"
            if option.action and option.action not in ACTIONS:
                yield f"{where}: unknown action {option.action!r}"
            ends = option.action or option.end
            if not ends and not _targets(option.next) and not _targets(node.next):
                yield f"{where}: option {option.key} leads nowhere"
        if node.type in ("input", "place") and not node.action and not _targets(node.next):
            yield f"{where}: no next node"
        for target in _node_targets(node):
            if target not in tree.nodes:
                yield f"{where}: leads to missing node {target!r}"
    reachable = _reachable(tree)
    for node_id in tree.nodes:
        if node_id not in reachable:
            yield f"node {node_id}: cannot be reached from a start node"


def _targets(next_: str | dict[str, str] | None) -> list[str]:
    if next_ is None:
        return []
    return list(next_.values()) if isinstance(next_, dict) else [next_]


def _node_targets(node: Node) -> list[str]:
    targets = _targets(node.next)
    for option in node.options:
        targets += _targets(option.next)
    return targets


def _reachable(tree: Tree) -> set[str]:
    seen: set[str] = set()
    todo = [n for n in tree.start.values() if n in tree.nodes]
    while todo:
        node_id = todo.pop()
        if node_id in seen:
            continue
        seen.add(node_id)
        todo += [t for t in _node_targets(tree.nodes[node_id]) if t in tree.nodes]
    return seen


def _all_texts(tree: Tree) -> Iterator[tuple[str, Text]]:
    for key, text in tree.strings.items():
        yield f"string {key}", text
    for node in tree.nodes.values():
        yield f"node {node.id} text", node.text
        if node.end:
            yield f"node {node.id} end", node.end
        for option in node.options:
            where = f"node {node.id} option {option.key}"
            yield f"{where} label", option.label
            if option.end:
                yield f"{where} end", option.end
            if option.end_urgent:
                yield f"{where} end_urgent", option.end_urgent


def _texts(tree: Tree) -> Iterator[str]:
    for where, text in _all_texts(tree):
        for lang in tree.languages:
            if not text.get(lang, "").strip():
                yield f"{where}: no {lang} text"
                continue
            bad = outside_gsm7(_PLACEHOLDER.sub("", text[lang]))
            if bad:
                yield f"{where} ({lang}): {''.join(bad)!r} is outside the GSM 7-bit alphabet"


def _screens(tree: Tree, max_chars: int) -> Iterator[str]:
    """Render every screen at its longest and measure it."""
    for lang in tree.languages:
        for node in tree.nodes.values():
            header = _worst(tree, lang, node.text[lang])
            if node.type == "place":
                screens = [
                    (
                        header,
                        [
                            "1. " + tree.strings["my_village"][lang] + " (" + "x" * PLACE_LABEL_MAX + ")",
                            "2. " + tree.strings["another_place"][lang],
                        ],
                    ),
                    *[(tree.strings[level][lang], ["99. " + "x" * PLACE_LABEL_MAX] * 3) for level in PLACE_LEVELS],
                ]
            else:
                screens = [(header, [f"{o.key}. {o.label[lang]}" for o in node.options])]
            for head, lines in screens:
                for i, page in enumerate(paginate(tree, lang, head, lines, True, max_chars)):
                    yield from _measure(tree, lang, f"node {node.id} page {i + 1}", page, max_chars)
            ends = [node.end] + [t for o in node.options for t in (o.end, o.end_urgent)]
            for end in ends:
                if end:
                    yield from _measure(
                        tree, lang, f"node {node.id} end", _worst(tree, lang, end[lang]), max_chars, notice=False
                    )
        resume = [f"1. {tree.strings['resume_yes'][lang]}", f"2. {tree.strings['resume_restart'][lang]}"]
        for page in paginate(tree, lang, tree.strings["resume"][lang], resume, False, max_chars):
            yield from _measure(tree, lang, "resume screen", page, max_chars)
        for key in ("session_error", *STATUS_STRINGS):
            yield from _measure(
                tree, lang, f"string {key}", _worst(tree, lang, tree.strings[key][lang]), max_chars, notice=False
            )
        yield from _measure(
            tree,
            lang,
            "deactivated volunteer's first screen",
            _deactivated(tree, lang, max_chars),
            max_chars,
            notice=False,
        )
        sms = _worst(tree, lang, tree.strings["resume_sms"][lang])
        if len(sms) > SMS_MAX_CHARS:
            yield f"string resume_sms ({lang}): {len(sms)} characters, over one SMS of {SMS_MAX_CHARS}"


def _deactivated(tree: Tree, lang: str, max_chars: int) -> str:
    """The community main menu's first page under the not_registered notice."""
    node = tree.nodes[tree.start["community"]]
    lines = [f"{o.key}. {o.label[lang]}" for o in node.options]
    first = paginate(tree, lang, _worst(tree, lang, node.text[lang]), lines, False, max_chars)[0]
    return tree.strings["not_registered"][lang] + "\n" + first


def _measure(tree: Tree, lang: str, where: str, text: str, max_chars: int, notice: bool = True) -> Iterator[str]:
    room = max(len(tree.strings[n][lang]) for n in NOTICES) + 1 if notice else 0
    if len(text) + room > max_chars:
        yield f"{where} ({lang}): {len(text) + room} characters, over {max_chars}"


def _worst(tree: Tree, lang: str, text: str) -> str:
    """text with every placeholder at its longest possible value."""

    def longest(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "reference":
            return "9" * (BODY_DIGITS + 1)
        if name == "status":
            return max((_worst(tree, lang, tree.strings[k][lang]) for k in STATUS_STRINGS), key=len)
        if name.startswith("count:"):
            return "9"
        node = tree.storing_node(name)
        if node is None or node.type == "input":
            return "x" * ECHO_MAX
        if node.type == "place":
            return "x" * PLACE_LABEL_MAX
        return max((o.label[lang] for o in node.options), key=len)

    return _PLACEHOLDER.sub(longest, text)


def worst_case(tree: Tree, lang: str, text: str) -> str:
    """text as long as it can get on a screen: each placeholder at its longest value."""
    return _worst(tree, lang, text)


def problem_node(problem: str) -> str | None:
    """The node a problem sentence is about, if any ("node age: ..." -> "age")."""
    match = _PROBLEM_NODE.match(problem)
    return match.group(1) if match else None


_PROBLEM_NODE = re.compile(r"^node ([^\s:]+)")
