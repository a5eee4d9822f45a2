"""TruthfulQA.csv: columns Type, Category, Question, Best Answer, Correct Answers, Incorrect Answers.

`split="holdout"` (default) keeps the held-out questions only, the last 20% of the rows (eval/sources/
holdout.py); `split="all"` reads every row, for files holding held-out rows alone (eval/samples)."""

from __future__ import annotations

from pathlib import Path

from plot_eval.registry import SOURCES
from plot_eval.sources.base import PromptItem, read_csv, require, user_prompt
from plot_eval.sources.holdout import SPLITS, TRUTHFULQA_HOLDOUT_FRACTION, holdout_start

COLUMNS = ("Type", "Category", "Question", "Best Answer", "Correct Answers", "Incorrect Answers")


def split_answers(text: str) -> list[str]:
    """The answer lists are '; '-separated."""
    return [part.strip() for part in text.split(";") if part.strip()]


@SOURCES.register("truthfulqa")
def load(path: Path, *, categories: list[str] | None = None, split: str = "holdout") -> list[PromptItem]:
    if split not in SPLITS:
        raise ValueError(f"truthfulqa: split must be one of {list(SPLITS)}, got {split!r}")
    rows = list(read_csv(path, COLUMNS))
    start = 0 if split == "all" else holdout_start(len(rows), TRUTHFULQA_HOLDOUT_FRACTION)
    items = []
    for index, (row_no, row) in enumerate(rows):
        for name in ("Question", "Best Answer", "Incorrect Answers"):
            require(path, row_no, row, name)  # every row is checked, held out or not
        if index < start:
            continue
        if categories is not None and row["Category"] not in categories:
            continue
        items.append(
            user_prompt(
                f"truthfulqa:{row_no}",
                row["Question"].strip(),
                category=row["Category"],
                best_answer=row["Best Answer"].strip(),
                correct_answers=split_answers(row["Correct Answers"] or ""),
                incorrect_answers=split_answers(row["Incorrect Answers"]),
            )
        )
    return items
