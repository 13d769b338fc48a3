"""What a report and a home visit need: every path to a submit collects their answers.

The gateway stores a report from the answers a session collected; a tree that lets a
caller reach "Send" without, say, the age question would fail on the caller's very last
screen. These checks walk every path of every caller kind, so such a tree is refused
before it is published.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from menus.tree import CALLER_KINDS, Node, Option, Tree
from menus.vocabulary import AgeBand, Category, Sex, VisitDomain

# Whether the child is in danger now.
URGENCY = ("yes", "no")
# Answers of each of the five family-support domains of a home visit.
DOMAIN_ANSWERS = ("ok", "concern")


@dataclass(frozen=True)
class Field:
    """An answer an action needs: the name it is stored under, how it is asked, its values."""

    store: str
    label: str
    # "menu" (values below), "place" (the place picker) or "input" (typed).
    kind: str
    values: tuple[str, ...] = ()


# Answers every report needs, and every home visit.
REPORT_FIELDS = (
    Field("category", "category", "menu", tuple(Category)),
    Field("urgent", "urgency", "menu", URGENCY),
    Field("age_band", "age band", "menu", tuple(AgeBand)),
    Field("sex", "sex", "menu", tuple(Sex)),
    Field("location", "place", "place"),
)
VISIT_FIELDS = (
    Field("household", "household code", "input"),
    *(Field(f"domain_{d}", f"{d} domain", "menu", DOMAIN_ANSWERS) for d in VisitDomain),
)
NEEDS = {"submit_report": REPORT_FIELDS, "record_visit": VISIT_FIELDS}
FIELDS = {f.store: f for fields in NEEDS.values() for f in fields}


def check(tree: Tree) -> list[str]:
    """Problems of what the tree collects, one sentence each (the tree's structure is sound)."""
    problems = list(_values(tree))
    for kind in CALLER_KINDS:
        problems += [p for p in _paths(tree, kind) if p not in problems]
    return problems


def _values(tree: Tree) -> Iterator[str]:
    """A node storing a needed answer asks it the right way (its values are checked with
    the tree's structure, menus.validate)."""
    for node in tree.nodes.values():
        field = FIELDS.get(node.store or "")
        if field is not None and node.type != field.kind:
            yield (
                f"node {node.id}: the {field.label} ({field.store}) must be asked by a {field.kind} node,"
                f" not a {node.type}"
            )


def _collects(node: Node, option: Option | None) -> str | None:
    """The needed answer a step through node (by option) collects, if any."""
    field = FIELDS.get(node.store or "")
    if field is None or node.type != field.kind:
        return None
    if option is not None:
        value = option.value if option.value is not None else option.key
        return field.store if value in field.values else None
    if node.type == "input" and node.skip_key is not None:
        return None  # may be skipped
    return field.store


def _paths(tree: Tree, caller: str) -> Iterator[str]:
    """Walk every path of caller from their start node, with the needed answers collected so far."""
    start = tree.start.get(caller)
    if start not in tree.nodes:
        return
    seen: set[tuple[str, frozenset[str]]] = set()
    todo: list[tuple[str, frozenset[str]]] = [(start, frozenset())]
    while todo:
        node_id, have = todo.pop()
        if (node_id, have) in seen or node_id not in tree.nodes:
            continue
        seen.add((node_id, have))
        node = tree.nodes[node_id]
        steps: list[tuple[Option | None, str | None, str | None]] = []
        if node.type == "menu":
            for choice in node.options:
                target = None if choice.end else choice.next_for(caller) or node.next_for(caller)
                steps.append((choice, choice.action, target))
        else:
            steps.append((None, node.action, node.next_for(caller)))
        for option, action, target in steps:
            got = _collects(node, option)
            now = have | {got} if got else have
            if action in NEEDS:
                missing = [f for f in NEEDS[action] if f.store not in now]
                if missing:
                    where = f"node {node.id}" + (f" option {option.key}" if option else "")
                    what = "report" if action == "submit_report" else "home visit"
                    names = ", ".join(f"{f.label} ({f.store})" for f in missing)
                    yield f"{where}: a {caller} caller can send a {what} here without its {names}"
                continue
            if target is not None and target != tree.start.get(caller):
                todo.append((target, now))
