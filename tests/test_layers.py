"""The package reads top-down: no module imports from a layer above its own.

    _version  <  lm (a model and a pass)  <  llmbook (the public face)  <  figures
              <  part1 | tiny (the book's two parts, never each other)  <  testing (a fake hub)
              <  sphinxext | bench  <  cli

Every ``import`` and ``from … import`` in every module is checked, including the
ones inside functions, so a lazy import cannot hide an upward dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "llmbook"
LAYERS = {"_version": 0, "lm": 1, "": 1.5, "figures": 2, "part1": 3, "tiny": 3, "testing": 3.5, "sphinxext": 4, "bench": 4, "cli": 5}
MODULES = sorted(p for p in PACKAGE.rglob("*.py"))


def _unit(dotted: str) -> str:
    """'llmbook.lm.capture' -> 'lm'; 'llmbook' -> '' (the public face)."""
    parts = dotted.split(".")
    return parts[1] if len(parts) > 1 else ""


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(dotted: str) -> bool:
    rel = Path(*dotted.split(".")[1:])
    return (PACKAGE / rel).is_dir() or (PACKAGE / rel).with_suffix(".py").is_file()


def _imports(path: Path) -> list[str]:
    """Every llmbook module this file imports, as absolute dotted names."""
    name, is_pkg = _module_name(path), path.name == "__init__.py"
    package = name if is_pkg else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] == "llmbook"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] == "llmbook":
                # `from . import bpe`: a name may be a module of that package, or just a name in it
                found += [f"{target}.{a.name}" if _is_module(f"{target}.{a.name}") else target for a in node.names]
    return found


def test_every_module_belongs_to_a_layer():
    units = {_unit(_module_name(p)) for p in MODULES}
    assert units <= set(LAYERS), f"modules outside the known layers: {units - set(LAYERS)}"


@pytest.mark.parametrize("path", MODULES, ids=[_module_name(p) for p in MODULES])
def test_no_import_reaches_up_or_sideways(path):
    mine = _unit(_module_name(path))
    for target in _imports(path):
        theirs = _unit(target)
        if theirs == mine:
            continue
        assert LAYERS[theirs] < LAYERS[mine], (
            f"{_module_name(path)} imports {target}: layer {theirs or 'llmbook'} ({LAYERS[theirs]}) "
            f"is not below {mine or 'llmbook'} ({LAYERS[mine]})")


def test_the_checker_sees_relative_and_lazy_imports(tmp_path):
    """A function-level `from ..part1 import x` in a tiny module is found and resolved."""
    global PACKAGE
    pkg = tmp_path / "llmbook" / "tiny"
    pkg.mkdir(parents=True)
    (pkg / "x.py").write_text("def f():\n    from ..part1.walkthrough import walkthrough\n    from . import bpe, train\n")
    (pkg / "bpe.py").write_text("")
    saved, PACKAGE = PACKAGE, tmp_path / "llmbook"
    try:
        assert _imports(pkg / "x.py") == ["llmbook.part1.walkthrough", "llmbook.tiny.bpe", "llmbook.tiny"]
    finally:
        PACKAGE = saved
