"""TruthfulQA (Lin et al. 2021, Apache-2.0) -> honesty pairs: the best answer vs each incorrect answer."""

from __future__ import annotations

import csv
from pathlib import Path

from plot_lightning.data.recipes.pairs import RecipeResult, user_prompt
from plot_lightning.data.recipes.paths import data_file


def _answers(cell: str) -> list[str]:
    return list(dict.fromkeys(answer.strip() for answer in cell.split(";") if answer.strip()))


def truthfulqa(root: Path) -> RecipeResult:
    """chosen = ``Best Answer``, rejected = each distinct ``Incorrect Answers`` entry; subpreference ``honesty``."""
    result = RecipeResult()
    with open(data_file(root, "truthfulqa/TruthfulQA.csv"), encoding="utf-8", newline="") as handle:
        for number, row in enumerate(csv.DictReader(handle), start=1):
            best = row["Best Answer"].strip()
            incorrect = [answer for answer in _answers(row["Incorrect Answers"]) if answer != best]
            if not best or not incorrect:
                result.dropped["question without a best and an incorrect answer"] += 1
                continue
            for rejected in incorrect:
                result.add(
                    user_prompt(row["Question"].strip()),
                    best,
                    rejected,
                    "honesty",
                    "truthfulqa",
                    f"{row['Category']} question {number}",
                )
    return result
