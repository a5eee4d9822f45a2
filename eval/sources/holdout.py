"""Which rows of the public data files are evaluation prompts (held out from training).

The eval side of the train/eval split; its mirror is ``experiments/recipes/holdout.py``. eval never
imports plot_lightning, so the rule is written on both sides with the same constants and formula, and each
side's test_holdout.py checks from the raw files that they agree.

- hh-rlhf (each ``*-base.test.jsonl.gz`` on its own): 0-based rows ``>= holdout_start(n, 0.1)``, n = non-blank
  rows (harmless: rows 2081..2312; helpful: 2119..2354).
- TruthfulQA (data row order): the last 20% of the questions (654..817).
- GSM8K: the 588 test questions without a correct/incorrect model-solution pair (``gsm8k.py``).
- MBPP: the test split minus the 397 Reflexion MBPP-py problems (``mbpp.py``).
- HumanEval: all 164; the training recipes leave the HumanEval pairs out of their demo mix.

The committed ``eval/samples`` hold only held-out rows, so suites that read them use ``split: all``."""

from __future__ import annotations

# the last fraction of each hh-rlhf test file / of TruthfulQA.csv held out (the values of the training side)
HH_RLHF_HOLDOUT_FRACTION = 0.1
TRUTHFULQA_HOLDOUT_FRACTION = 0.2

SPLITS = ("holdout", "all")
"""``holdout``: only the held-out rows; ``all``: every row (for files that hold only held-out rows)."""


def holdout_start(n_rows: int, fraction: float) -> int:
    """0-based index of the first held-out row: ``int(n_rows * (1 - fraction))``.

    Rows ``[start, n_rows)`` are evaluation prompts; training uses ``[0, start)``. Raises ValueError for a
    negative ``n_rows`` or a fraction outside [0, 1].
    """
    if n_rows < 0 or not 0.0 <= fraction <= 1.0:
        raise ValueError(f"holdout_start: need n_rows >= 0 and 0 <= fraction <= 1, got {n_rows}, {fraction}")
    return int(n_rows * (1 - fraction))


def check_fraction(loader: str, fraction: float, trained_fraction: float) -> None:
    """A held-out fraction above the documented one would evaluate on training rows: ValueError."""
    if not 0.0 < fraction <= trained_fraction:
        raise ValueError(
            f"{loader}: holdout_fraction must be in (0, {trained_fraction}] (training uses the rows before the "
            f"last {trained_fraction:.0%}), got {fraction}"
        )
