"""The editor's phone: a dial through the real engine and places, writing nothing.

It plays the same hops as the webhook (``UssdService``) for a caller typing inputs, but
a report or a visit is only pretended: the END screen shows a sample reference.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.referrals import reports
from gateway.runtime import Runtime
from gateway.ussd.callers import Caller
from menus import engine
from menus.engine import Outcome, Screen
from menus.tree import CALLER_KINDS, Tree

# Shown for {reference} on a pretended report's END screen (a valid-looking number).
SAMPLE_REFERENCE = "0000000"
# Longest dial the preview replays.
MAX_INPUTS = 60


@dataclass(frozen=True)
class PreviewScreen:
    reply: str
    end: bool
    # What a real session would have done here ("submit_report" ...), for the page to say.
    pretended: tuple[str, ...]


def preview_home(rt: Runtime) -> dict[str, Any]:
    """The village a previewed volunteer lives in: the first of the place lists."""
    parent: int | None = None
    for _ in engine.PLACE_LEVELS:
        children = rt.places.children(parent)
        if not children:
            break
        parent = children[0][0]
    village = rt.places.get(parent) if parent is not None else None
    if village is None:
        raise ValueError("no places are loaded (locations import)")
    # As a registered volunteer's profile has it (gateway.ussd.callers): the village's own name.
    return {"id": village.id, "name": village.name}


def dial(rt: Runtime, tree: Tree, caller_kind: str, lang: str, inputs: list[str]) -> list[PreviewScreen]:
    """The screens a caller of caller_kind in lang sees typing inputs, one per hop (first: the dial)."""
    if caller_kind not in CALLER_KINDS:
        raise ValueError(f"caller must be one of {', '.join(CALLER_KINDS)}")
    screen = Screen(max_chars=rt.settings.ussd_max_chars)
    home = preview_home(rt) if caller_kind == "volunteer" else None
    caller = Caller(
        phone="",
        phone_hash="preview",
        kind=caller_kind,
        lang=lang,
        village_id=home["id"] if home else None,
        village_name=home["name"] if home else None,
    )
    outcome = engine.start(tree, caller_kind, lang, rt.places, screen, home)
    screens = [_carry_out(rt, tree, caller, outcome)]
    for text in inputs[:MAX_INPUTS]:
        if outcome.end:
            break
        outcome = engine.step(tree, outcome.state, text, rt.places, screen)
        screens.append(_carry_out(rt, tree, caller, outcome))
    return screens


def _carry_out(rt: Runtime, tree: Tree, caller: Caller, outcome: Outcome) -> PreviewScreen:
    """As UssdService._carry_out, without writing anything."""
    text = outcome.text
    pretended = []
    for effect in outcome.effects:
        if effect.action in ("submit_report", "record_visit"):
            text = text.replace("{reference}", SAMPLE_REFERENCE)
            pretended.append(effect.action)
        elif effect.action == "check_report":
            reference = str(effect.data.get("reference", ""))
            key = reports.status_key(rt, reference, caller)
            text = text.replace("{status}", tree.string(key, outcome.state.lang).replace("{reference}", reference))
    return PreviewScreen(engine.reply(outcome.end, text), outcome.end, tuple(pretended))
