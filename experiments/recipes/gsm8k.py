"""GSM8K example model solutions (OpenAI, MIT) -> math pairs: a correct vs an incorrect solution.

``gsm8k/example_model_solutions.jsonl`` holds four GPT-3 solutions per GSM8K **test** question, each
labelled correct or not. Every distinct (correct, incorrect) pair of one question is a pair; questions
without both kinds give none (MANIFEST: 731 questions, 2426 pairs).
"""

from __future__ import annotations

from pathlib import Path

from experiments.recipes.pairs import RecipeResult, distinct_texts, read_jsonl, user_prompt
from experiments.recipes.paths import data_file

SOLVERS = ("6b_finetuning", "6b_verification", "175b_finetuning", "175b_verification")


def gsm8k(root: Path) -> RecipeResult:
    """All distinct (correct, incorrect) solution pairs per question; subpreference ``math``."""
    result = RecipeResult()
    for number, row in enumerate(read_jsonl(data_file(root, "gsm8k/example_model_solutions.jsonl")), start=1):
        correct = distinct_texts(row[s]["solution"] for s in SOLVERS if row[s]["is_correct"])
        incorrect = distinct_texts(row[s]["solution"] for s in SOLVERS if not row[s]["is_correct"])
        if not correct or not incorrect:
            result.dropped["question without both a correct and an incorrect solution"] += 1
            continue
        for chosen in correct:
            for rejected in incorrect:
                result.add(
                    user_prompt(row["question"]),
                    chosen,
                    rejected,
                    "math",
                    "gsm8k/example_model_solutions",
                    f"test question {number}",
                )
    return result
