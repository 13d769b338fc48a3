"""menus/ is the pure core: it imports nothing of the gateway, the workers, or any I/O library."""

from __future__ import annotations

import ast
from pathlib import Path

MENUS = Path(__file__).resolve().parents[2] / "menus"
# Top-level packages the pure core may never import.
FORBIDDEN = {"gateway", "workers", "flask", "werkzeug", "redis", "rq", "sqlalchemy", "requests", "africastalking"}


def imported_packages(source: Path) -> set[str]:
    tree = ast.parse(source.read_text(), str(source))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_menus_imports_nothing_of_the_gateway_workers_or_io_libraries():
    offenders = {
        str(path.relative_to(MENUS.parent)): sorted(imported_packages(path) & FORBIDDEN)
        for path in sorted(MENUS.rglob("*.py"))
        if imported_packages(path) & FORBIDDEN
    }
    assert offenders == {}


def test_the_purity_check_sees_a_forbidden_import(tmp_path: Path):
    module = tmp_path / "bad.py"
    module.write_text("from gateway.runtime import Runtime\nimport redis.client\n")
    assert imported_packages(module) & FORBIDDEN == {"gateway", "redis"}
