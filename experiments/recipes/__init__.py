"""Recipes: turn the public datasets under the data root into standard preference JSONL.

Each recipe maps the data root to a :class:`~experiments.recipes.pairs.RecipeResult` whose rows are
``{"prompt": [messages], "chosen", "rejected", "subpreference", "source", "source_id"}``. Command line::

    python -m experiments.recipes <name> --data-root DATA --out pairs.jsonl [--limit N]
    python -m experiments.recipes sample --data-root DATA --out-dir plot_lightning/data/samples

The recipes train only on rows the eval suites do not evaluate (``holdout.py``), except ``code-humaneval``
(``holdout.EVAL_OVERLAP``), which stays out of the demo mix.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

from experiments.recipes.code_pairs import code_pairs
from experiments.recipes.gsm8k import gsm8k
from experiments.recipes.hh_rlhf import hh_rlhf
from experiments.recipes.pairs import RecipeResult
from experiments.recipes.truthfulqa import truthfulqa

RECIPES: dict[str, Callable[[Path], RecipeResult]] = {
    "hh-harmless": partial(hh_rlhf, split="harmless"),
    "hh-helpful": partial(hh_rlhf, split="helpful"),
    "gsm8k": gsm8k,
    "code-humaneval": partial(code_pairs, benchmark="humaneval"),
    "code-mbpp": partial(code_pairs, benchmark="mbpp"),
    "truthfulqa": truthfulqa,
}

__all__ = ["RECIPES", "RecipeResult"]
