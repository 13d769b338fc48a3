"""Which menu tree a new session starts on, and the tree of any version in use."""

from __future__ import annotations

import threading
import time

import yaml
from sqlalchemy import select, update
from sqlalchemy.orm import joinedload

from gateway.db import Database
from gateway.models import MenuPublication, MenuVersion
from menus.tree import Tree, default_tree, parse_tree
from menus.validate import validate

# Seconds a process trusts its idea of the active version before asking the database.
ACTIVE_CHECK_EVERY = 15
# Kinds of entries in the versions' history.
PUBLISH = "publish"
RESTORE = "restore"


class PublishError(ValueError):
    """A tree that may not be published, with the validator's problems."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class MenuCatalog:
    """Trees by version: the shipped default until a version is published."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._lock = threading.Lock()
        shipped = default_tree()
        self._trees: dict[str, Tree] = {shipped.version: shipped}
        self._shipped = shipped
        self._active = shipped.version
        self._checked_at = 0.0

    def active(self) -> Tree:
        """The tree a new session starts on."""
        if time.monotonic() - self._checked_at > ACTIVE_CHECK_EVERY:
            with self._db.reading() as session:
                version = session.scalar(select(MenuVersion.version).where(MenuVersion.active))
            self._active = version or self._shipped.version
            self._checked_at = time.monotonic()
        return self.get(self._active)

    def refresh(self) -> None:
        """Ask the database for the active version on the next new session."""
        self._checked_at = 0.0

    def get(self, version: str) -> Tree:
        """The tree of a version; a session keeps the one it started on."""
        tree = self._trees.get(version)
        if tree is not None:
            return tree
        with self._db.reading() as session:
            source = session.scalar(select(MenuVersion.source).where(MenuVersion.version == version))
        if source is None:
            raise KeyError(f"no menu version {version}")
        tree = parse_tree(source)
        with self._lock:
            self._trees[version] = tree
        return tree

    def versions(self) -> list[MenuVersion]:
        """Every published version, newest first."""
        with self._db.reading() as session:
            return list(session.scalars(select(MenuVersion).order_by(MenuVersion.id.desc())))

    def history(self) -> list[MenuPublication]:
        """Every publication and restore, newest first, with its version."""
        with self._db.reading() as session:
            query = select(MenuPublication).options(joinedload(MenuPublication.version))
            return list(session.scalars(query.order_by(MenuPublication.id.desc())))

    def restore(self, version_prefix: str, by: str = "", max_chars: int | None = None) -> Tree:
        """Publish an earlier version again, as a new version that says which it restores.

        Its content is the earlier one's (a diff shows no change); its own number keeps the
        history readable. With max_chars, the tree must pass today's validator first.
        """
        with self._db.reading() as session:
            rows = session.scalars(select(MenuVersion).where(MenuVersion.version.startswith(version_prefix))).all()
        if len(rows) != 1:
            raise KeyError(f"{len(rows)} published versions start with {version_prefix!r}")
        old = rows[0]
        data = yaml.safe_load(old.source)
        data["restored_from"] = old.id
        source = yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=10_000)
        tree = parse_tree(source)
        if max_chars is not None and (problems := validate(tree, max_chars)):
            raise PublishError(problems)
        self._activate(tree, source, by, RESTORE, restored_from=old.id)
        return tree

    def publish(self, source: str, max_chars: int, by: str = "") -> Tree:
        """Validate and make a tree the active one; the old versions stay restorable."""
        tree = parse_tree(source)
        problems = validate(tree, max_chars)
        if problems:
            raise PublishError(problems)
        self._activate(tree, source, by, PUBLISH)
        return tree

    def _activate(self, tree: Tree, source: str, by: str, kind: str, restored_from: int | None = None) -> None:
        """Make tree the active version (a new row unless its content was published before)
        and write it in the history."""
        with self._db.transaction() as session:
            session.execute(update(MenuVersion).values(active=False))
            row = session.scalar(select(MenuVersion).where(MenuVersion.version == tree.version))
            if row is None:
                row = MenuVersion(version=tree.version, source=source, active=True, published_by=by)
                session.add(row)
                session.flush()
            else:
                row.active = True
            session.add(MenuPublication(version_id=row.id, kind=kind, by=by, restored_from=restored_from))
        self.refresh()
