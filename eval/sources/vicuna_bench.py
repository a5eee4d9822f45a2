"""Vicuna-bench questions (same schema as MT-Bench, one turn each)."""

from __future__ import annotations

from pathlib import Path

from eval.registry import SOURCES
from eval.sources import mt_bench
from eval.sources.base import PromptItem


@SOURCES.register("vicuna_bench")
def load(path: Path, *, categories: list[str] | None = None) -> list[PromptItem]:
    return mt_bench.load(path, categories=categories, prefix="vicuna")
