"""GSM8K test questions `{"question", "answer": "... #### 18"}` with the gold final number.

`exclude_paired_file` (example_model_solutions.jsonl) drops the questions that yield a correct/incorrect
model-solution pair (those may be used for training): 588 of the 1319 test questions remain.
"""

from __future__ import annotations

from pathlib import Path

from plot_eval.registry import SOURCES
from plot_eval.sources.base import PromptItem, SourceRowError, read_jsonl, require, user_prompt

SOLUTION_KEYS = ("6b_finetuning", "6b_verification", "175b_finetuning", "175b_verification")


def gold_number(answer: str) -> str | None:
    """The number after '####', commas removed, or None."""
    if "####" not in answer:
        return None
    return answer.rsplit("####", 1)[1].strip().replace(",", "") or None


def paired_questions(path: Path) -> set[str]:
    """Questions with at least one correct and one incorrect model solution."""
    paired = set()
    for row_no, row in read_jsonl(path):
        question = require(path, row_no, row, "question")
        flags = {row[key].get("is_correct") for key in SOLUTION_KEYS if isinstance(row.get(key), dict)}
        if {True, False} <= flags:
            paired.add(question)
    return paired


@SOURCES.register("gsm8k")
def load(path: Path, *, exclude_paired_file: Path | None = None) -> list[PromptItem]:
    excluded = paired_questions(exclude_paired_file) if exclude_paired_file else set()
    items = []
    for row_no, row in read_jsonl(path):
        question = require(path, row_no, row, "question")
        gold = gold_number(require(path, row_no, row, "answer"))
        if gold is None:
            raise SourceRowError(path, row_no, "answer", "no '#### <number>' final answer")
        if question in excluded:
            continue
        items.append(user_prompt(f"gsm8k:{row_no}", question, row=row_no, gold=gold))
    return items
