"""The rows the eval suites hold out, so that training never sees an evaluation prompt.

This is the training side of the train/eval split. Its mirror is ``eval/sources/holdout.py``; the two
packages never import each other, so the rule is written once on each side, with the same constants and
formula. ``tests/experiments/recipes/test_holdout.py`` and ``tests/eval/sources/test_holdout.py``
check from the raw files that they agree.

- hh-rlhf (each ``*-base.test.jsonl.gz`` on its own): the last 10% of rows are held out for eval. That is
  the 0-based row indices ``>= holdout_start(n, HH_RLHF_HOLDOUT_FRACTION)`` with n = non-blank rows
  (harmless 2312 -> rows 2081..2312, 232 held out; helpful 2354 -> rows 2119..2354, 236 held out).
- TruthfulQA (``TruthfulQA.csv``, data row order): the last 20% of questions are held out
  (817 -> questions 654..817, 164 held out; training uses questions 1..653).
- GSM8K: the pairs come from the test questions that have a correct and an incorrect model solution; eval
  uses the 588 test questions without one (disjoint as is, no boundary here).
- Code: eval runs all of HumanEval and the MBPP test split minus the 397 Reflexion MBPP-py problems, so the
  MBPP-py pairs (and their MBPP reference solutions, same problems) are safe to train on. The HumanEval
  pairs are not: ``code-humaneval`` is listed in ``EVAL_OVERLAP`` and left out of the demo mix.
"""

from __future__ import annotations

HH_RLHF_HOLDOUT_FRACTION = 0.1
"""Last fraction of each hh-rlhf test file held out; same value as eval/sources/holdout.py."""

TRUTHFULQA_HOLDOUT_FRACTION = 0.2
"""Last fraction of TruthfulQA.csv questions held out; same value as eval/sources/holdout.py."""

EVAL_OVERLAP = {
    "code-humaneval": "HumanEval problems: the eval suites evaluate every HumanEval problem",
}
"""Recipes whose prompts ARE eval prompts: kept for experiments, never put in the demo mix."""

HELD_OUT_REASON = "held out for eval"


def holdout_start(n_rows: int, fraction: float) -> int:
    """0-based index of the first held-out row: ``int(n_rows * (1 - fraction))``.

    Rows ``[0, start)`` may be trained on, rows ``[start, n_rows)`` are evaluation prompts. Same formula as
    ``eval/sources/holdout.py``. Raises ValueError for a negative ``n_rows`` or a fraction outside [0, 1].
    """
    if n_rows < 0 or not 0.0 <= fraction <= 1.0:
        raise ValueError(f"holdout_start: need n_rows >= 0 and 0 <= fraction <= 1, got {n_rows}, {fraction}")
    return int(n_rows * (1 - fraction))
