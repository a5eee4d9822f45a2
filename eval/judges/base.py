"""What a pairwise judge is, and how its verdicts become win scores.

A ``PairwiseJudge`` returns P(response A is better) in [0, 1] (0.5 = tie). LLM judges favour one position,
so ``pairwise_score`` asks twice with the responses swapped and only counts a win or a loss when both orders
agree; any disagreement (including a tie in one order) is a tie. Ties count as half a win.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class PairwiseJudge(Protocol):
    def compare(self, prompt: str, response_a: str, response_b: str) -> float:
        """P(``response_a`` is better than ``response_b`` for ``prompt``), in [0, 1]; 0.5 is a tie."""
        ...


def verdict(probability_a: float) -> float:
    """Hard verdict from P(A better): 1.0 (A wins) above 0.5, 0.0 below, 0.5 at exactly 0.5."""
    if not 0.0 <= probability_a <= 1.0:
        raise ValueError(f"probability_a: a judge must return a probability in [0, 1], got {probability_a}")
    return 1.0 if probability_a > 0.5 else 0.0 if probability_a < 0.5 else 0.5


def pairwise_score(judge: PairwiseJudge, prompt: str, model_resp: str, baseline_resp: str) -> float:
    """Win score of ``model_resp`` against ``baseline_resp`` in {0, 0.5, 1}.

    First order: model in position A, win = verdict(P(A)). Swapped order: model in position B,
    win = 1 - verdict(P(A)). Equal -> that score; different -> 0.5. A judge that always picks position A
    thus scores 1 then 0 -> 0.5, whatever the responses.
    """
    as_first = verdict(judge.compare(prompt, model_resp, baseline_resp))
    as_second = 1.0 - verdict(judge.compare(prompt, baseline_resp, model_resp))
    return as_first if as_first == as_second else 0.5


def programmatic_win(model_correct: bool, baseline_correct: bool) -> float:
    """Per-sample win against the baseline from a correctness check: 1 if only the model is correct,
    0.5 if both or neither are, 0 if only the baseline is."""
    if model_correct == baseline_correct:
        return 0.5
    return 1.0 if model_correct else 0.0
