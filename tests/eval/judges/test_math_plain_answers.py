"""The math judge on answers written without math delimiters (issue 19).

Every gold answer of data/math_answers.jsonl, with each of its equivalent and perturbed answers taken out of
``\\boxed{}`` and written in plain-text shapes ("The answer is X.", "Final answer: X", "x = X"): the
equivalent ones must be correct and the perturbed ones incorrect. The old judge read a plain answer as its
leading number ("The answer is 12\\pi" was 12) and lost answers that end a sentence ("14/3.").
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from plot_eval.judges.math_answer import MathJudge, math_correct, plain_final_answer
from plot_eval.sources.base import user_prompt

ROWS = [json.loads(line) for line in (Path(__file__).parent / "data" / "math_answers.jsonl").open()]
SHAPES = ("The answer is {}.", "The answer is {}", "Final answer: {}", "**Answer:** {}", "Thus x = {}.")


def _unboxed(answer: str) -> str | None:
    return answer[len("\\boxed{") : -1] if answer.startswith("\\boxed{") and answer.endswith("}") else None


def _plain(kind: str) -> list[tuple[str, str]]:
    return [
        (row["gold"], shape.format(inner))
        for row in ROWS
        for inner in filter(None, map(_unboxed, row[kind]))
        for shape in SHAPES
        if not (shape.startswith("Thus") and "=" in inner)  # "x = a = b" would be another question
    ]


@pytest.mark.parametrize(("gold", "response"), _plain("equivalent"))
def test_plain_equivalent_answers_are_correct(gold, response):
    assert math_correct(response, gold)


@pytest.mark.parametrize(("gold", "response"), _plain("perturbed"))
def test_plain_perturbed_answers_are_rejected(gold, response):
    assert not math_correct(response, gold)


@pytest.mark.parametrize(
    ("gold", "response"),
    [
        ("12", "The answer is 12\\pi"),
        ("1", "The answer is 1+2i"),
        ("3", "The answer is 3\\sqrt{2}."),
        ("5", "The answer is 5/7."),
        ("4", "The answer is 4^2."),
        ("2", "Final answer: 2x + 1"),
        ("10", "The answer is 10!"),
        ("7", "So the answer is 7 - 3i."),
    ],
)
def test_a_plain_answer_is_not_its_leading_number(gold, response):
    assert not math_correct(response, gold)


@pytest.mark.parametrize(
    ("gold", "response", "correct"),
    [
        ("\\frac{14}{3}", "The answer is 14/3.", True),
        ("\\frac{14}{3}", "The answer is 14/3. Check: 3 * 14/3 = 14.", True),
        ("\\text{(C)}", "The answer is (C).", True),
        ("\\text{(C)}", "The answer is C.", True),
        ("\\text{(C)}", "The answer is (B).", False),
        ("(C)", "The answer is (C).", True),
        ("\\text{east}", "The answer is east.", True),
        ("\\text{east}", "The answer is west.", False),
        ("52_8", "The answer is 52_8.", True),
        ("52_8", "The answer is $52_9$.", False),
        ("52_8", "The answer is 52_9.", False),
        ("1011_2", "\\boxed{1011_{3}}", False),
        ("\\$32,\\!348", "The answer is \\$32,\\!348.", True),
        ("\\$32,\\!348", "The answer is $32,348.", True),
        ("\\$32,\\!348", "The answer is \\$32,\\!349.", False),
        ("24", "4! = 24", True),
        ("12", "12\\pi", False),  # no marker: a last line that is an expression is read whole
        ("12", "Computing the area:\n12 pi", False),
        ("1", "1+2i", False),
        ("42", "Adding them gives 42 apples.", True),  # prose: math-verify's own search
    ],
)
def test_issue_19_shapes(gold, response, correct):
    assert math_correct(response, gold) is correct


def test_plain_final_answer_reads_the_last_marked_answer_to_its_sentence_end():
    assert plain_final_answer("First try: answer is 3. Wait, the answer is 2.5. Done.") == "2.5"
    assert plain_final_answer("Answer: **14/3**\nbecause ...") == "14/3"
    assert plain_final_answer("No marker and no equation here") is None


def test_a_gold_answer_with_an_escaped_dollar_passes_the_check():
    """Issue 19: three MATH gold answers like `\\$32,\\!348` aborted `plot-eval prompts`."""
    MathJudge(None, None).check(user_prompt("x", "q", gold="\\$32,\\!348"))
