"""Sources stage: one loader per public data file, each registered by name in `plot_eval.registry.SOURCES`.

A loader is `load(path, **options) -> list[PromptItem]`; its keyword-only parameters are the options a suite
may set; options whose name ends in `_file` are paths relative to the data root."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from plot_eval.sources.base import PromptItem, SourceRowError

__all__ = ["PromptItem", "SourceRowError", "load_source"]


def load_source(loader: str, file: str, options: dict[str, Any], data_root: Path) -> list[PromptItem]:
    """Load prompts of one suite set; clear errors for unknown loaders/options and missing files."""
    import inspect

    from plot_eval.registry import SOURCES

    try:
        load = SOURCES.get(loader).component
    except KeyError as err:
        raise ValueError(str(err.args[0])) from err
    resolved: dict[str, Any] = {}
    for name, value in (options or {}).items():
        resolved[name] = _data_file(data_root, value) if name.endswith("_file") and value else value
    path = _data_file(data_root, file)
    try:
        inspect.signature(load).bind(path, **resolved)
    except TypeError as err:
        raise ValueError(f"source {loader!r} ({path}): bad options {sorted(resolved)}: {err}") from err
    items = load(path, **resolved)
    if not items:
        raise ValueError(f"source {loader!r}: no prompts selected from {path} with options {options}")
    return items


def _data_file(data_root: Path, relative: str | Path) -> Path:
    path = Path(data_root) / relative
    if not path.is_file():
        raise FileNotFoundError(f"data file not found: {path} (data root {data_root})")
    return path
