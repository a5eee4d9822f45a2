"""Every module of both packages and of the experiments imports, eval/ (import name plot_eval) never imports
plot_lightning, neither package imports the tooling beside it, and nothing imports a top-level `eval`."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import experiments
import plot_eval as eval_package
import plot_lightning

PACKAGES = [plot_lightning, eval_package, experiments]


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


def test_the_installed_packages_never_import_the_tooling() -> None:
    """experiments/ and benchmarks/ are not installed: an import of them from either package breaks a user's
    installation."""
    offenders = [
        f"{path}: {module}"
        for package in (plot_lightning, eval_package)
        for path in Path(package.__path__[0]).rglob("*.py")
        for module in _imported_modules(path)
        if module.split(".")[0] in ("experiments", "benchmarks")
    ]
    assert offenders == []


def test_nothing_imports_a_top_level_eval() -> None:
    """The folder eval/ is installed as plot_eval: an `import eval` works only from the repo root (where the
    folder shadows nothing) and breaks everywhere else, so none may remain in code, tests or benchmarks."""
    repo = Path(plot_lightning.__path__[0]).parent
    offenders = [
        f"{path.relative_to(repo)}: {module}"
        for folder in ("plot_lightning", "eval", "experiments", "tests", "benchmarks")
        for path in (repo / folder).rglob("*.py")
        for module in _imported_modules(path)
        if module.split(".")[0] == "eval"
    ]
    assert offenders == []
    assert Path(eval_package.__path__[0]) == repo / "eval"


def test_plot_lightning_never_imports_plot_eval() -> None:
    root = Path(plot_lightning.__path__[0])
    offenders = [
        f"{path}: {module}"
        for path in root.rglob("*.py")
        for module in _imported_modules(path)
        if module.split(".")[0] == "plot_eval"
    ]
    assert offenders == []


def test_math_imports_only_torch() -> None:
    """plot_lightning/ot, losses, heads and tensor_checks import only torch, the stdlib and each other."""
    import sys

    allowed_roots = {"torch", "plot_lightning", "__future__"} | set(sys.stdlib_module_names)
    root = Path(plot_lightning.__path__[0])
    paths = [
        *(root / "ot").rglob("*.py"),
        *(root / "losses").rglob("*.py"),
        *(root / "heads").rglob("*.py"),
        root / "tensor_checks.py",
    ]
    offenders = [
        f"{path}: {module}"
        for path in paths
        for module in _imported_modules(path)
        if module.split(".")[0] not in allowed_roots
    ]
    assert offenders == []


def _imported_modules(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            found.append(node.module or "")
    return found


def test_ot_does_not_import_losses_and_no_lazy_table() -> None:
    """ot/ is below losses/ (losses import ot): it imports the shared checks from plot_lightning.tensor_checks,
    and losses/__init__ imports its names eagerly (no PEP 562 __getattr__ to dodge a cycle)."""
    root = Path(plot_lightning.__path__[0])
    offenders = [
        f"{path}: {module}"
        for path in (root / "ot").rglob("*.py")
        for module in _imported_modules(path)
        if module.startswith("plot_lightning.losses")
    ]
    assert offenders == []
    assert "__getattr__" not in (root / "losses" / "__init__.py").read_text(encoding="utf-8")
    assert "torch" in {m.split(".")[0] for m in _imported_modules(root / "tensor_checks.py")}
