"""MT-Bench and Vicuna-bench questions (lm-sys FastChat): `{"question_id", "category", "turns": [str, ...]}`.

Only the first turn is used (single-turn generation); `categories` selects e.g. writing, roleplay.
"""

from __future__ import annotations

from pathlib import Path

from plot_eval.registry import SOURCES
from plot_eval.sources.base import PromptItem, SourceRowError, read_jsonl, require, user_prompt


@SOURCES.register("mt_bench")
def load(path: Path, *, categories: list[str] | None = None, prefix: str = "mt_bench") -> list[PromptItem]:
    items = []
    for row_no, row in read_jsonl(path):
        category = require(path, row_no, row, "category")
        if categories is not None and category not in categories:
            continue
        turns = require(path, row_no, row, "turns", list)
        if not turns or not isinstance(turns[0], str) or not turns[0].strip():
            raise SourceRowError(path, row_no, "turns", "first turn must be a non-empty string")
        question_id = require(path, row_no, row, "question_id", int)
        items.append(user_prompt(f"{prefix}:{question_id}", turns[0], category=category))
    return items


@SOURCES.register("vicuna_bench")
def load_vicuna(path: Path, *, categories: list[str] | None = None) -> list[PromptItem]:
    return load(path, categories=categories, prefix="vicuna")
