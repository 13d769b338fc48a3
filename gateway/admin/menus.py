"""The menu editor: versions, drafts, per-node editing, preview, publish, diff, restore."""

from __future__ import annotations

from flask import render_template

from gateway.admin.auth import READERS, require_role
from gateway.admin.base import bp, runtime


@bp.get("/menus")
@require_role(*READERS)
def menus() -> str:
    rt = runtime()
    return render_template(
        "admin/menus/index.html", section="admin.menus", versions=rt.menus.versions(), active=rt.menus.active()
    )
