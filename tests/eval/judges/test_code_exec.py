"""Code execution judge on real HumanEval problems (canonical solutions pass, broken ones fail) and MBPP."""

from __future__ import annotations

import gzip
import json

import pytest

from eval.judges.code_exec import build_program, code_passes, extract_code


@pytest.fixture(scope="module")
def humaneval(data_file):
    path = data_file("humaneval/HumanEval.jsonl.gz")
    with gzip.open(path, "rt") as handle:
        return [json.loads(line) for line in handle][:3]


def test_extract_code_prefers_block_defining_entry_point():
    response = "Use this helper:\n```\nx = 1\n```\nSolution:\n```python\ndef f(a):\n    return a\n```\nDone."
    assert extract_code(response, "f") == "def f(a):\n    return a\n"
    assert extract_code(response) == "x = 1\n"
    assert extract_code("def f(a): return a") == "def f(a): return a"
    assert extract_code("```python\ndef f(a):\n    return a") == "def f(a):\n    return a"  # unclosed fence


def test_canonical_humaneval_solutions_pass_as_completions(humaneval):
    """HumanEval style: the completion is the function body, appended to the prompt."""
    for problem in humaneval:
        assert code_passes(
            problem["canonical_solution"], problem["test"], problem["entry_point"], prompt=problem["prompt"]
        )


def test_full_function_in_markdown_passes_and_broken_one_fails(humaneval):
    problem = humaneval[0]
    full = problem["prompt"] + problem["canonical_solution"]
    markdown = f"Here is my solution:\n```python\n{full}\n```\nIt checks all pairs."
    assert code_passes(markdown, problem["test"], problem["entry_point"], prompt=problem["prompt"])
    broken = markdown.replace("return True", "return False")
    assert broken != markdown
    assert not code_passes(broken, problem["test"], problem["entry_point"], prompt=problem["prompt"])


def test_program_calls_check_only_for_humaneval_tests():
    assert build_program(
        "def f(): return 1", "def check(candidate):\n    assert candidate() == 1", "f"
    ).endswith("check(f)\n")
    mbpp_tests = "assert f() == 1\nassert f() + 1 == 2"
    assert "check(" not in build_program("def f(): return 1", mbpp_tests, "f")
    assert code_passes("def f(): return 1", mbpp_tests, "f")
    assert not code_passes("def f(): return 2", mbpp_tests, "f")


def test_infinite_loop_solution_fails_within_timeout():
    assert not code_passes("def f():\n    while True: pass", "assert f() == 1", "f", timeout_s=1)
