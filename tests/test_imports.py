"""Every module of both packages imports, and eval/ never imports plot_lightning."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import eval as eval_package
import plot_lightning

PACKAGES = [plot_lightning, eval_package]


def _module_names() -> list[str]:
    names = []
    for package in PACKAGES:
        names.append(package.__name__)
        for info in pkgutil.walk_packages(package.__path__, prefix=f"{package.__name__}."):
            if not info.name.endswith("__main__"):
                names.append(info.name)
    return sorted(names)


@pytest.mark.parametrize("name", _module_names())
def test_module_imports(name: str) -> None:
    importlib.import_module(name)


def test_module_list_is_complete() -> None:
    """The walk above found every .py file (a broken __init__ would hide modules)."""
    for package in PACKAGES:
        root = Path(package.__path__[0])
        files = {p for p in root.rglob("*.py") if p.name != "__main__.py"}
        dotted = {
            ".".join((package.__name__, *p.relative_to(root).with_suffix("").parts)).removesuffix(".__init__")
            for p in files
        }
        assert dotted <= set(_module_names())


def test_eval_never_imports_plot_lightning() -> None:
    root = Path(eval_package.__path__[0])
    offenders = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                modules = [node.module or ""]
            else:
                continue
            offenders += [f"{path}: {m}" for m in modules if m.split(".")[0] == "plot_lightning"]
    assert offenders == []


def test_math_imports_only_torch() -> None:
    """plot_lightning/ot, losses and heads import only torch, the stdlib and each other."""
    import sys

    allowed_roots = {"torch", "plot_lightning", "__future__"} | set(sys.stdlib_module_names)
    root = Path(plot_lightning.__path__[0])
    offenders = []
    for folder in ("ot", "losses", "heads"):
        for path in (root / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    modules = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0:
                    modules = [node.module or ""]
                else:
                    continue
                offenders += [f"{path}: {m}" for m in modules if m.split(".")[0] not in allowed_roots]
    assert offenders == []
