"""menus/ is the pure core: it imports nothing of the gateway, the workers or a server library."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import menus

# Top-level packages menus/ may never import.
FORBIDDEN = {"gateway", "workers", "flask", "sqlalchemy", "redis", "rq", "africastalking"}
MODULES = sorted(Path(menus.__file__).parent.glob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_menus_module_imports_nothing_of_the_gateway(path: Path) -> None:
    imported: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported.add(node.module.split(".")[0])
    assert not imported & FORBIDDEN, f"{path.name} imports {sorted(imported & FORBIDDEN)}"
