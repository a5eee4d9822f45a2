"""TruthfulQA (Lin et al. 2021, Apache-2.0) -> honesty pairs: the best answer vs each incorrect answer.

Only the first 80% of the questions (CSV data row order) are used: the last 20% are the eval prompts (see
``holdout.py``) and are counted under ``"held out for eval"``.
"""

from __future__ import annotations

import csv
from pathlib import Path

from experiments.recipes.holdout import HELD_OUT_REASON, TRUTHFULQA_HOLDOUT_FRACTION, holdout_start
from experiments.recipes.pairs import RecipeResult, distinct_texts, user_prompt
from experiments.recipes.paths import data_file


def truthfulqa(root: Path) -> RecipeResult:
    """chosen = ``Best Answer``, rejected = each distinct ``Incorrect Answers`` entry; subpreference ``honesty``."""
    result = RecipeResult()
    with open(data_file(root, "truthfulqa/TruthfulQA.csv"), encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    start = holdout_start(len(rows), TRUTHFULQA_HOLDOUT_FRACTION)
    result.dropped[HELD_OUT_REASON] = len(rows) - start
    for number, row in enumerate(rows[:start], start=1):
        best = row["Best Answer"].strip()
        incorrect = [
            answer for answer in distinct_texts(row["Incorrect Answers"].split(";")) if answer != best
        ]
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
