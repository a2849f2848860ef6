"""``aftercare/db/`` is the ground floor: every slice builds on it, so it imports no slice (a slice
importing it back would be a cycle). Only itself and the app-wide modules beside the slices."""

from __future__ import annotations

import ast
from pathlib import Path

import aftercare

PACKAGE = Path(aftercare.__file__).parent


def _aftercare_imports(source: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text(), filename=str(source))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return {name for name in names if name.split(".")[0] == "aftercare"}


def test_db_imports_no_slice() -> None:
    slices = {path.name for path in PACKAGE.iterdir() if (path / "__init__.py").is_file()} - {"db"}
    offending = {
        f"{source.relative_to(PACKAGE)}: {name}"
        for source in sorted((PACKAGE / "db").glob("*.py"))
        for name in _aftercare_imports(source)
        if set(name.split(".")[1:2]) & slices
    }
    assert offending == set()
