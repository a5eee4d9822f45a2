"""The package's promise: ``plot_lightning.tracking`` is the only part of ``plot_lightning`` that imports
MLflow (read from the source, so a lazy import inside a function counts too)."""

from __future__ import annotations

import ast
from pathlib import Path

import plot_lightning

PACKAGE = Path(plot_lightning.__file__).parent


def _imports_mlflow(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module or ""]
        if any(name == "mlflow" or name.startswith("mlflow.") for name in names):
            return True
    return False


def test_only_the_tracking_package_imports_mlflow():
    outside = [
        str(path.relative_to(PACKAGE))
        for path in sorted(PACKAGE.rglob("*.py"))
        if _imports_mlflow(path) and path.relative_to(PACKAGE).parts[0] != "tracking"
    ]
    assert outside == []


def test_the_scan_sees_an_mlflow_import(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from mlflow.entities import Param\n")
    assert _imports_mlflow(module)
