"""GSM8K final-number extraction: one rule, shared with the lm-eval task's filter."""

from __future__ import annotations

import json

import pytest

from plot_eval.judges.gsm8k import GSM8KJudge, extract_final_number, gsm8k_correct
from plot_eval.sources.base import user_prompt


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("She makes 9 * 2 = $<<9*2=18>>18 every day.\n#### 18", "18"),
        ("So 3 + 4 = 7. The answer is 18.", "18"),
        ("The final answer is $1,234.", "1234"),
        ("Answer: -5", "-5"),
        ("We get \\boxed{42} after 3 steps.", "42"),
        ("First 5 apples, then 7 more, so 12", "12"),
        ("It costs $3.50 per item, 2 items cost 7.00", "7"),
        ("#### 1,000,000", "1000000"),
        ("The answer is 0.50.", "0.5"),
        ("25%", "25"),
        ("I do not know.", None),
        ("#### 18\nlater text mentions 99", "18"),
        ("- 18", "18"),  # issue 8: a list bullet, not a minus sign
        ("the answer is **18**. (Janet had 16.)", "18"),  # issue 8: lm-eval read 16
        ("The answer is $\\$18$.", "18"),
        ("x2 = 5", "5"),
    ],
)
def test_extraction_table(text, expected):
    assert extract_final_number(text) == expected


def test_exact_match():
    assert gsm8k_correct("Total: 18 dollars. The answer is 18.", "... #### 18")
    assert gsm8k_correct("The answer is 18.0", "18")
    assert not gsm8k_correct("The answer is 17.", "#### 18")
    assert not gsm8k_correct("no idea", "#### 18")
    with pytest.raises(ValueError, match="gold"):
        gsm8k_correct("18", "no number here")


@pytest.mark.parametrize("gold", ["p - q", "\\text{east}", "\\pi"])
def test_a_gold_with_no_number_is_rejected_by_check(gold):
    with pytest.raises(ValueError, match="field 'gold': no number"):
        GSM8KJudge(None, None).check(user_prompt("x", "q", gold=gold))


@pytest.mark.parametrize(
    "text", ["- 18", "the answer is **18**. (... 16.)", "Answer: 7 apples, 3 pears", "\\boxed{1,200}"]
)
def test_lm_eval_filter_reads_what_the_judge_reads(text):
    """The lm-eval task's registered filter and the judge share one rule (issue 8: they disagreed)."""
    import yaml

    from plot_eval.lm_harness.final_number_filter import FILTER_NAME, FinalNumberFilter
    from plot_eval.lm_harness.runner import TASKS_DIR

    task = yaml.safe_load((TASKS_DIR / "plot_gsm8k.yaml").read_text())
    assert task["filter_list"][0]["filter"][0]["function"] == FILTER_NAME
    from lm_eval.api.registry import get_filter

    assert get_filter(FILTER_NAME) is FinalNumberFilter
    assert FinalNumberFilter().apply([[text]], [{}]) == [[extract_final_number(text)]]


def test_gold_solutions_match_themselves_and_not_neighbours(data_file):
    """On real GSM8K test rows, each gold solution matches its own answer (and mostly not the next one)."""
    path = data_file("gsm8k/test.jsonl")
    rows = [json.loads(line) for line in path.read_text().splitlines()[:200]]
    assert all(gsm8k_correct(row["answer"], row["answer"]) for row in rows)
    assert all(extract_final_number(row["answer"].split("####")[0]) is not None for row in rows)
    mismatched = sum(gsm8k_correct(a["answer"], b["answer"]) for a, b in zip(rows, rows[1:], strict=False))
    assert mismatched < 20
