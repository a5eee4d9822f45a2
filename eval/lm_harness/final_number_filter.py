"""The lm-eval filter `plot_final_number`: GSM8K completions -> their final number, by the judge's own rule.

Registered in lm-eval's filter registry on import (eval/lm_harness/runner.py imports it before running), so
the task YAML (`filter: [{function: plot_final_number}, {function: take_first}]`) and the gsm8k judge read
`'- 18'` and `'the answer is **18**. (... 16.)'` the same way: one rule, `extract_final_number`.
"""

from __future__ import annotations

from lm_eval.api.filter import Filter
from lm_eval.api.registry import register_filter

from plot_eval.judges.gsm8k import extract_final_number

FILTER_NAME = "plot_final_number"
NO_NUMBER = "[no number]"


@register_filter(FILTER_NAME)
class FinalNumberFilter(Filter):
    """Maps every response of every instance to its normalised final number (`NO_NUMBER` when none)."""

    def apply(self, resps, docs):
        return [[extract_final_number(text) or NO_NUMBER for text in responses] for responses in resps]
