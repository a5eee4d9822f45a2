"""Vicuna-bench questions (same schema as MT-Bench, one turn each)."""

from __future__ import annotations

from pathlib import Path

from plot_eval.registry import SOURCES
from plot_eval.sources import mt_bench
from plot_eval.sources.base import PromptItem


@SOURCES.register("vicuna_bench")
def load(path: Path, *, categories: list[str] | None = None) -> list[PromptItem]:
    return mt_bench.load(path, categories=categories, prefix="vicuna")
