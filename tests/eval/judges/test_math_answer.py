"""The math judge (math-verify) on a LaTeX answer set: gold forms recognised, perturbed answers rejected.

tests/eval/judges/data/math_answers.jsonl: per gold answer (fractions, roots, complex numbers, intervals,
tuples, sets, text, equivalent forms), responses that are equivalent and perturbations that are not. The
GSM8K numeric judge reduces all of these to their last number, which is what issue 8 reproduced.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from plot_eval.judges.math_answer import MathJudge, math_correct
from plot_eval.sources.base import user_prompt

ROWS = [json.loads(line) for line in (Path(__file__).parent / "data" / "math_answers.jsonl").open()]
EQUIVALENT = [(r["gold"], a) for r in ROWS for a in r["equivalent"]]
PERTURBED = [(r["gold"], a) for r in ROWS for a in r["perturbed"]]


@pytest.mark.parametrize(("gold", "answer"), EQUIVALENT)
def test_equivalent_answers_are_correct(gold, answer):
    assert math_correct(answer, gold)


@pytest.mark.parametrize(("gold", "answer"), PERTURBED)
def test_perturbed_answers_are_rejected(gold, answer):
    assert not math_correct(answer, gold)


@pytest.mark.parametrize(
    ("gold", "wrong"),
    [("\\frac{14}{3}", "3"), ("3\\sqrt{13}", "13"), ("6 - 5i", "-5"), ("(3, -1)", "-1")],
)
def test_the_numeric_judge_failure_of_issue_8_is_gone(gold, wrong):
    """The numeric judge reduced both sides to their last number, so these wrong answers passed."""
    assert not math_correct(f"\\boxed{{{wrong}}}", gold)


def test_check_rejects_missing_or_unreadable_gold_before_generation():
    judge = MathJudge(None, None)
    judge.check(user_prompt("ok", "q", gold="\\frac{1}{2}"))
    with pytest.raises(ValueError, match="field 'gold'"):
        judge.check(user_prompt("x", "q"))
    assert judge.outcome(user_prompt("x", "q", gold="0.5"), "q", "\\boxed{\\frac12}")["label"] == "correct"
    assert judge.identity()["math-verify"] == "0.9.0"
