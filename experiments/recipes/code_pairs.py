"""Reflexion programming runs (MIT; solutions are OpenAI model outputs) -> code pairs.

Runs are grouped by problem (``task_id`` for HumanEval, ``name`` for MBPP-py); chosen = a distinct solution
with ``is_solved=true``, rejected = a distinct one with ``is_solved=false``. MANIFEST counts 384 HumanEval
and 62 MBPP-py pairs, but most failing HumanEval runs stored an EMPTY solution string: those are dropped
(and counted), leaving 19 HumanEval pairs. Each non-empty failing solution is also paired with the
problem's reference solution: HumanEval prompt + ``canonical_solution``, MBPP ``code`` from
``mbpp/mbpp.jsonl`` (CC-BY-4.0; not executed against the typed MBPP-py tests here).
"""

from __future__ import annotations

from pathlib import Path

from experiments.recipes.pairs import RecipeResult, read_jsonl, user_prompt
from experiments.recipes.paths import data_file

FOLDER = "code-pairs-reflexion"
RUNS = {
    "humaneval": (
        "humaneval.simple.gpt-3.5-turbo",
        "humaneval.simple.gpt-4.run1",
        "humaneval.simple.text-davinci-003",
        "humaneval.simple.gpt-4.run2",
        "humaneval.reflexion.gpt-4",
    ),
    "mbpp": ("mbpp-py.simple.gpt-4.run1", "mbpp-py.simple.gpt-4.run2", "mbpp-py.reflexion.gpt-4"),
}
INSTRUCTION = "Complete the following Python function. Reply with the whole function in a Python code block."


def _code_prompt(signature: str) -> list[dict[str, str]]:
    return user_prompt(f"{INSTRUCTION}\n\n```python\n{signature.rstrip()}\n```")


def _fenced(code: str) -> str:
    return f"```python\n{code.replace(chr(13), '').strip(chr(10))}\n```"


def group_runs(root: Path, benchmark: str) -> dict[str, list[dict]]:
    """All runs of ``benchmark`` (``"humaneval"`` or ``"mbpp"``) grouped by problem, in file order."""
    key = "task_id" if benchmark == "humaneval" else "name"
    groups: dict[str, list[dict]] = {}
    for run in RUNS[benchmark]:
        for row in read_jsonl(data_file(root, f"{FOLDER}/{run}.jsonl")):
            groups.setdefault(row[key], []).append(row)
    return groups


def _references(root: Path, benchmark: str, groups: dict[str, list[dict]]) -> dict[str, str]:
    if benchmark == "humaneval":
        return {
            problem: runs[0]["prompt"] + runs[0]["canonical_solution"] for problem, runs in groups.items()
        }
    code = {row["task_id"]: row["code"] for row in read_jsonl(data_file(root, "mbpp/mbpp.jsonl"))}
    return {problem: code[int(problem.split("_")[1])] for problem in groups}  # "mbpp_234_volume_cube" -> 234


def code_pairs(root: Path, benchmark: str) -> RecipeResult:
    """Passing vs failing, then reference vs failing, solutions of ``benchmark``; subpreference ``code``."""
    result = RecipeResult()
    source = f"{FOLDER}/{benchmark}"
    groups = group_runs(root, benchmark)
    references = _references(root, benchmark, groups)
    for problem, runs in groups.items():
        result.dropped["run with an empty solution"] += sum(not run["solution"].strip() for run in runs)
        solutions = [run for run in runs if run["solution"].strip()]
        passing = list(dict.fromkeys(run["solution"] for run in solutions if run["is_solved"]))
        failing = list(dict.fromkeys(run["solution"] for run in solutions if not run["is_solved"]))
        if not failing:
            result.dropped["problem without a non-empty failing solution"] += 1
            continue
        prompt = _code_prompt(runs[0]["prompt"])
        for chosen in passing:
            for rejected in failing:
                result.add(prompt, _fenced(chosen), _fenced(rejected), "code", source, problem)
        for rejected in failing:
            result.add(
                prompt,
                _fenced(references[problem]),
                _fenced(rejected),
                "code",
                f"{source}+reference",
                problem,
            )
    return result
