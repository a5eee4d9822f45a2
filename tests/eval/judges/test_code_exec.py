"""Code execution judge on real HumanEval problems (every canonical solution passes, broken ones fail),
MBPP-style asserts, and the ways a verdict used to be wrong (early exits, __main__ blocks, lost helpers)."""

from __future__ import annotations

import gzip
import json
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from plot_eval.judges.code_exec import build_solution, extract_code, judge_code
from plot_eval.judges.sandbox import SandboxUnavailableError

pytestmark = pytest.mark.usefixtures("isolated_sandbox")
DOUBLES = "def check(candidate):\n    assert candidate(2) == 4\n    assert candidate(0) == 0\n"
DOUBLE = "def f(x):\n    return 2 * x\n"  # the reference solution of DOUBLES


def code_passes(*args, **kwargs) -> bool:
    return judge_code(*args, **kwargs).passed


HUMANEVAL = Path(__file__).with_name("data") / "HumanEval.jsonl.gz"  # all 164 problems (see data/README.md)


@pytest.fixture(scope="module")
def humaneval():
    with gzip.open(HUMANEVAL, "rt") as handle:
        problems = [json.loads(line) for line in handle]
    assert len({p["task_id"] for p in problems}) == len(problems) == 164
    return problems


def _full_function(problem: dict) -> str:
    """What a model typically answers: the entry point's definition in markdown, without the imports and
    helper functions that precede it in the prompt."""
    start = re.search(rf"^def\s+{problem['entry_point']}\s*\(", problem["prompt"], re.MULTILINE).start()
    return f"Here you go:\n```python\n{problem['prompt'][start:]}{problem['canonical_solution']}\n```\n"


def _signature(problem: dict) -> str:
    start = re.search(rf"^def\s+{problem['entry_point']}\s*\(", problem["prompt"], re.MULTILINE).start()
    return re.match(r".*?\)[^:\n]*:\n", problem["prompt"][start:], re.DOTALL).group(0)


def _judge(problem: dict, response: str) -> bool:
    # a generous wall limit: the machine running the tests may be loaded (the CPU limit still applies)
    return code_passes(
        response,
        problem["test"],
        problem["entry_point"],
        reference=problem["prompt"] + problem["canonical_solution"],
        prompt=problem["prompt"],
        timeout_s=60,
    )


def test_extract_code_prefers_block_defining_entry_point():
    response = "Use this helper:\n```\nx = 1\n```\nSolution:\n```python\ndef f(a):\n    return a\n```\nDone."
    assert extract_code(response, "f") == "def f(a):\n    return a\n"
    assert extract_code(response) == "x = 1\n"
    assert extract_code("def f(a): return a") == "def f(a): return a"
    assert extract_code("```python\ndef f(a):\n    return a") == "def f(a):\n    return a"  # unclosed fence


def test_canonical_humaneval_solutions_pass_as_completions(humaneval):
    """HumanEval style: the completion is the function body, appended to the prompt."""
    for problem in humaneval[:3]:
        assert _judge(problem, problem["canonical_solution"])


@pytest.mark.slow
def test_every_humaneval_problem_passes_as_a_full_function_and_wrong_answers_fail(humaneval):
    """All 164, concurrently, one sandbox each; a `return None` body fails every fourth problem."""
    wrong = [(p, f"```python\n{_signature(p)}    return None\n```") for p in humaneval[::4]]
    with ThreadPoolExecutor(max_workers=4) as pool:
        right = list(pool.map(lambda p: _judge(p, _full_function(p)), humaneval))
        broken = list(pool.map(lambda case: _judge(*case), wrong))
    assert [p["task_id"] for p, ok in zip(humaneval, right, strict=True) if not ok] == []
    assert [p["task_id"] for (p, _), ok in zip(wrong, broken, strict=True) if ok] == []


def test_prompt_helpers_are_kept_for_a_full_function(humaneval):
    """HumanEval/38's decode_cyclic calls encode_cyclic, which only the prompt defines."""
    problem = next(p for p in humaneval if p["task_id"] == "HumanEval/38")
    response = _full_function(problem)
    assert "def encode_cyclic" not in extract_code(response, problem["entry_point"])
    assert "def encode_cyclic" in build_solution(response, problem["entry_point"], prompt=problem["prompt"])
    assert _judge(problem, response)


def test_full_function_in_markdown_passes_and_broken_one_fails(humaneval):
    problem = humaneval[0]
    markdown = _full_function(problem)
    assert _judge(problem, markdown)
    broken = markdown.replace("return True", "return False")
    assert broken != markdown
    assert not _judge(problem, broken)


@pytest.mark.parametrize("exit_call", ["sys.exit(0)", "os._exit(0)", "raise SystemExit(0)"])
def test_wrong_code_that_exits_before_the_tests_fails(exit_call):
    wrong = f"import os, sys\ndef f(x):\n    return 0\n{exit_call}\n"
    assert not code_passes(wrong, DOUBLES, "f", reference=DOUBLE)
    assert not code_passes(wrong, "assert f(2) == 4", "f", reference=DOUBLE)  # MBPP style


def test_right_code_with_input_in_a_main_block_passes():
    right = "def f(x):\n    return 2 * x\n\nif __name__ == '__main__':\n    print(f(int(input())))\n"
    assert code_passes(right, DOUBLES, "f", reference=DOUBLE)
    assert not code_passes(right.replace("2 * x", "x"), DOUBLES, "f", reference=DOUBLE)


def test_missing_entry_point_fails():
    assert not code_passes("def g(x):\n    return 2 * x\n", DOUBLES, "f", reference=DOUBLE)


def test_tests_define_check_not_the_solution():
    """A solution's own `check` is never what decides (the tests' check runs; MBPP tests have none)."""
    cheat = "def f(x):\n    return 0\ndef check(candidate):\n    pass\n"
    assert not code_passes(cheat, DOUBLES, "f", reference=DOUBLE)
    assert not code_passes(cheat, "assert f(2) == 4", "f", reference=DOUBLE)


def test_mbpp_asserts():
    mbpp_tests = "assert f() == 1\nassert f() + 1 == 2"
    assert code_passes("def f(): return 1", mbpp_tests, "f", reference="def f(): return 1")
    assert not code_passes("def f(): return 2", mbpp_tests, "f", reference="def f(): return 1")


def test_infinite_loop_solution_fails_within_timeout():
    loop = "def f():\n    while True: pass"
    assert not code_passes(loop, "assert f() == 1", "f", reference="def f(): return 1", timeout_s=1)


def test_judge_refuses_without_isolation_unless_opted_in(monkeypatch):
    monkeypatch.setattr("plot_eval.judges.sandbox.isolation_problem", lambda: "user namespaces are disabled")
    with pytest.raises(SandboxUnavailableError, match="user namespaces are disabled"):
        code_passes("def f(x):\n    return 2 * x\n", DOUBLES, "f", reference=DOUBLE)
    assert code_passes(
        "def f(x):\n    return 2 * x\n", DOUBLES, "f", reference=DOUBLE, allow_unsandboxed=True
    )


def test_suite_setting_opts_in_and_changes_the_verdict_identity(monkeypatch, tmp_path):
    """judges.code_exec.allow_unsandboxed reaches the judge through the verdict engine, and is part of
    the cache key (an unsandboxed verdict is never served for a sandboxed run)."""
    from plot_eval.generation.cache import ResultCache
    from plot_eval.judges.base import JudgeContext
    from plot_eval.judges.engine import VerdictEngine
    from plot_eval.models.handle import ModelPool
    from plot_eval.registry import JUDGES
    from plot_eval.sources.base import user_prompt

    monkeypatch.setattr("plot_eval.judges.sandbox.isolation_problem", lambda: "user namespaces are disabled")
    item = user_prompt("p0", "double x", tests=DOUBLES, entry_point="f", reference_solution=DOUBLE)
    answer = "```python\ndef f(x):\n    return 2 * x\n```"
    engines = [
        VerdictEngine(
            {"code_exec": JUDGES.settings("code_exec", {"allow_unsandboxed": opt_in}, "judges.code_exec")},
            ResultCache(tmp_path / f"{opt_in}.jsonl"),
            JudgeContext(ModelPool()),
        )
        for opt_in in (False, True)
    ]
    with pytest.raises(SandboxUnavailableError):
        engines[0].judge("code_exec").check(item)
    with pytest.raises(SandboxUnavailableError):
        engines[0].outcome("code_exec", item, answer)
    engines[1].judge("code_exec").check(item)
    assert engines[1].outcome("code_exec", item, answer)["label"] == "correct"
    assert engines[0].identity("code_exec") != engines[1].identity("code_exec")


def test_a_suite_with_code_is_refused_before_any_model_is_loaded(monkeypatch, tmp_path):
    """The refusal comes first: the model folder below does not even exist, and nothing is generated."""
    from plot_eval.runner import evaluate

    monkeypatch.setattr("plot_eval.judges.sandbox.isolation_problem", lambda: "user namespaces are disabled")
    quick = Path(__file__).resolve().parents[3] / "configs" / "eval" / "quick.yaml"
    with pytest.raises(SandboxUnavailableError, match="user namespaces are disabled"):
        evaluate(
            tmp_path / "no-model", tmp_path / "no-baseline", quick, output_dir=tmp_path / "out", track=False
        )
    assert not (tmp_path / "out" / "cache.jsonl").exists()
