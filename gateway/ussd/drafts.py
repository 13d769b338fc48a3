"""Menu drafts: a copy of a version, edited in the admin web, then published or dropped."""

from __future__ import annotations

from sqlalchemy import select

from gateway.models import MenuDraft
from gateway.runtime import Runtime
from menus import editing
from menus.texts import Data


class DraftNotFoundError(KeyError):
    """No draft has this id (deleted, or published and gone)."""


def open_draft(rt: Runtime, version: str, by: str, name: str = "") -> MenuDraft:
    """A new draft holding a copy of version (a content hash of a published or shipped tree)."""
    tree = rt.menus.get(version)
    source = editing.dump(editing.load(tree.source))
    draft = MenuDraft(
        name=name.strip()[:120] or f"Draft of {version[:10]}",
        base_version=version,
        source=source,
        created_by=by,
        updated_by=by,
    )
    with rt.db.transaction() as session:
        session.add(draft)
    return draft


def all_drafts(rt: Runtime) -> list[MenuDraft]:
    with rt.db.reading() as session:
        return list(session.scalars(select(MenuDraft).order_by(MenuDraft.updated_at.desc())))


def get(rt: Runtime, draft_id: int) -> MenuDraft:
    with rt.db.reading() as session:
        draft = session.get(MenuDraft, draft_id)
    if draft is None:
        raise DraftNotFoundError(draft_id)
    return draft


def save(rt: Runtime, draft_id: int, data: Data, by: str) -> MenuDraft:
    """Keep data as the draft's tree (valid or not: the editor shows its problems)."""
    with rt.db.transaction() as session:
        draft = session.get(MenuDraft, draft_id)
        if draft is None:
            raise DraftNotFoundError(draft_id)
        draft.source = editing.dump(data)
        draft.updated_by = by
    return draft


def delete(rt: Runtime, draft_id: int) -> None:
    with rt.db.transaction() as session:
        draft = session.get(MenuDraft, draft_id)
        if draft is not None:
            session.delete(draft)
