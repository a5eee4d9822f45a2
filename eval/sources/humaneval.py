"""HumanEval `{"task_id", "prompt", "canonical_solution", "entry_point", "test"}`: complete a function; unit
tests in `test`; the reference solution (prompt + canonical solution) shows the code judge the tests' calls."""

from __future__ import annotations

from pathlib import Path

from plot_eval.registry import SOURCES
from plot_eval.sources.base import PromptItem, read_jsonl, require, user_prompt


@SOURCES.register("humaneval")
def load(path: Path) -> list[PromptItem]:
    items = []
    for row_no, row in read_jsonl(path):
        task_id = require(path, row_no, row, "task_id")
        prompt = require(path, row_no, row, "prompt")
        items.append(
            user_prompt(
                task_id,
                prompt,
                tests=require(path, row_no, row, "test"),
                entry_point=require(path, row_no, row, "entry_point"),
                code_prefix=prompt,
                reference_solution=prompt + require(path, row_no, row, "canonical_solution"),
            )
        )
    return items
