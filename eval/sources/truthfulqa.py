"""TruthfulQA.csv: columns Type, Category, Question, Best Answer, Correct Answers, Incorrect Answers."""

from __future__ import annotations

from pathlib import Path

from eval.sources.base import PromptItem, SourceRowError, read_csv, user_prompt

COLUMNS = ("Type", "Category", "Question", "Best Answer", "Correct Answers", "Incorrect Answers")


def split_answers(text: str) -> list[str]:
    """The answer lists are '; '-separated."""
    return [part.strip() for part in text.split(";") if part.strip()]


def load(path: Path, *, categories: list[str] | None = None) -> list[PromptItem]:
    items = []
    for row_no, row in read_csv(path, COLUMNS):
        for name in ("Question", "Best Answer", "Incorrect Answers"):
            if not (row.get(name) or "").strip():
                raise SourceRowError(path, row_no, name, "empty")
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
