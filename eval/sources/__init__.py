"""Prompt sources: one loader per public data file, a registry, and `load_source` for suite entries.

Each loader is `load(path, **options) -> list[PromptItem]`; options whose name ends in `_file` are paths
relative to the data root.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

from eval.sources import (
    advbench,
    gsm8k,
    harmbench,
    hh_rlhf,
    humaneval,
    mbpp,
    mt_bench,
    truthfulqa,
    vicuna_bench,
)
from eval.sources.base import PromptItem, SourceRowError

SOURCES: dict[str, Callable[..., list[PromptItem]]] = {
    "mt_bench": mt_bench.load,
    "vicuna_bench": vicuna_bench.load,
    "hh_rlhf": hh_rlhf.load,
    "truthfulqa": truthfulqa.load,
    "gsm8k": gsm8k.load,
    "humaneval": humaneval.load,
    "mbpp": mbpp.load,
    "harmbench": harmbench.load,
    "advbench": advbench.load,
}

__all__ = ["SOURCES", "PromptItem", "SourceRowError", "load_source"]


def load_source(
    loader: str, file: str, options: dict[str, Any], data_root: Path, limit: int | None = None
) -> list[PromptItem]:
    """Load prompts of one suite set; clear errors for unknown loaders/options and missing files."""
    if loader not in SOURCES:
        raise ValueError(f"unknown source loader {loader!r}; expected one of {sorted(SOURCES)}")
    load = SOURCES[loader]
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
    return items[:limit] if limit else items


def _data_file(data_root: Path, relative: str | Path) -> Path:
    path = Path(data_root) / relative
    if not path.is_file():
        raise FileNotFoundError(f"data file not found: {path} (data root {data_root})")
    return path
