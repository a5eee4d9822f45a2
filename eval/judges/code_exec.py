"""Code correctness by execution (HumanEval / MBPP pass@1), with a verdict the code under test cannot reach.

Three sandbox calls (``sandbox_calls``), only the second running the answer:

1. record: the reference solution runs under the benchmark's tests; every call they make to the function
   under test is recorded as plain data (``plain_data``). Cached per problem.
2. outputs: the answer's code is called on those arguments, seeing neither the tests nor an expected value,
   and returns only plain data (types exact; a subclass of a built-in becomes its base type, so no
   ``__eq__`` of the answer's survives) or the name of the exception each call raised.
3. replay: the tests run again over the reference module's helpers, the function under test answering from
   step 2's outputs: the tests' own assertions and tolerances decide, with the real built-ins.

Tests whose later inputs depend on earlier outputs ask for the missing calls, and step 2 runs again (at most
``MAX_ROUNDS`` times). A call with an argument that is neither plain data nor a global of the tests cannot be
split like this: not judged (``judged=False``, never a pass). A test of a side effect on an argument is not
supported. The model's code is the first fenced block defining ``entry_point`` (else the first block, else
the response); given the ``prompt``, a body completes the prompt's function and a full definition replaces
its stub, keeping the prompt's imports and helpers."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from plot_eval.judges.plain_data import NotPlainDataError, decode
from plot_eval.judges.sandbox import run_job

# in verdict cache keys: v1 dropped prompt helpers, v2 judged inside the answer's process
RULES_VERSION = "record-outputs-replay-3"
MAX_ROUNDS = 4
_RECORDED: dict[tuple, list] = {}  # (reference, tests, entry point) -> the tests' calls
_FENCE = re.compile(r"```[ \t]*([\w+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)


def _defines(code: str, name: str) -> bool:
    return re.search(rf"def\s+{re.escape(name)}\s*\(", code) is not None


def extract_code(response: str, entry_point: str | None = None) -> str:
    """Python code from a response: a fenced block (preferring one defining ``entry_point``) or the text."""
    blocks = [
        body
        for language, body in _FENCE.findall(response)
        if language.lower() in ("", "python", "py", "python3")
    ]
    if not blocks:
        return response
    if entry_point:
        defining = [b for b in blocks if _defines(b, entry_point)]
        if defining:
            return defining[0]
    return blocks[0]


def build_solution(response: str, entry_point: str, *, prompt: str = "") -> str:
    """The solution module that ``judge_code`` runs on the recorded calls."""
    code = extract_code(response, entry_point)
    if not prompt:
        return code
    if not _defines(code, entry_point):
        return prompt + code  # a completion of the prompt's function body
    try:
        compile(prompt, "prompt", "exec")
    except SyntaxError:  # a stub without a body: keep only its imports
        imports = [line for line in prompt.splitlines() if line.startswith(("import ", "from "))]
        return "\n".join(imports + [code])
    return f"{prompt}\n\n{code}"  # the prompt's stub (signature + docstring) is valid; the code's def replaces it


@dataclass(frozen=True)
class CodeVerdict:
    passed: bool
    judged: bool  # False: the problem could not be split into plain-data calls (never a pass)
    reason: str  # why it did not pass ("" when it passed)


def _setup(tests: str) -> str:
    """The tests' top-level statements that build their globals: none holding an ``assert`` anywhere
    (the answer's process must not see an expected value), and not ``check``."""
    kept = [
        statement
        for statement in ast.parse(tests).body
        if not any(isinstance(node, ast.Assert) for node in ast.walk(statement))
        and not (isinstance(statement, ast.FunctionDef) and statement.name == "check")
    ]
    return ast.unparse(ast.Module(body=kept, type_ignores=[]))


def _uses_globals(calls: list) -> bool:
    arguments = [arg for call in calls for arg in call["args"] + [kwarg for _, kwarg in call["kwargs"]]]
    return any("global" in argument for argument in arguments)


def _valid_outputs(report: dict | None, count: int) -> list | str:
    """The answer's outputs, checked to be ``count`` plain-data outcomes, or why they are not."""
    outputs = (report or {}).get("outputs")
    if not isinstance(outputs, list) or len(outputs) != count:
        error = (report or {}).get("error", "no report (it exited, was killed or timed out)")
        return f"the answer gave no outputs: {str(error)[:300]}"
    for outcome in outputs:
        if not isinstance(outcome, dict) or len(outcome) != 1:
            return "malformed outputs"
        ((kind, body),) = outcome.items()
        if kind in ("raised", "unserialisable") and isinstance(body, str) and len(body) <= 300:
            continue
        try:
            if kind != "value":
                return "malformed outputs"
            decode(body)
        except (NotPlainDataError, RecursionError):
            return "outputs that are not plain data"
    return outputs


def _recorded_calls(reference: str, tests: str, entry_point: str, limits: dict) -> list | str:
    key = (reference, tests, entry_point)
    if key not in _RECORDED:
        job = {"mode": "record", "reference": reference, "tests": tests, "entry_point": entry_point}
        report = run_job(job, **limits).report or {}
        if not isinstance(report.get("calls"), list):
            return f"the reference solution could not be recorded: {report.get('error', 'no report')}"
        _RECORDED[key] = report["calls"]
    return list(_RECORDED[key])


def judge_code(
    response: str, tests: str, entry_point: str, *, reference: str, prompt: str = "", **limits
) -> CodeVerdict:
    """Whether the code in ``response`` passes ``tests``, judged outside its process (see the module
    docstring). ``reference``: a solution module that passes the tests. ``limits``: ``timeout_s``,
    ``memory_mb`` and ``allow_unsandboxed`` of each sandbox call."""
    calls = _recorded_calls(reference, tests, entry_point, limits)
    if isinstance(calls, str):
        return CodeVerdict(passed=False, judged=False, reason=calls)
    solution = build_solution(response, entry_point, prompt=prompt)
    for _ in range(MAX_ROUNDS):
        setup = _setup(tests) if _uses_globals(calls) else ""
        # the answer's process gets the arguments, never the tests or the reference
        answer = {"mode": "outputs", "solution": solution, "setup": setup, "calls": calls}
        outputs = _valid_outputs(run_job({**answer, "entry_point": entry_point}, **limits).report, len(calls))
        if isinstance(outputs, str):
            return CodeVerdict(passed=False, judged=True, reason=outputs)
        replay = {"mode": "replay", "reference": reference, "tests": tests, "entry_point": entry_point}
        replay.update(calls=calls, outputs=outputs)
        report = run_job(replay, **limits).report or {}
        if report.get("status") == "needs":
            calls.append(report["call"])
            continue
        if report.get("status") in ("passed", "failed"):
            return CodeVerdict(report["status"] == "passed", judged=True, reason=report.get("error", ""))
        return CodeVerdict(passed=False, judged=False, reason=f"the replay failed: {str(report)[:300]}")
    return CodeVerdict(passed=False, judged=False, reason=f"the tests asked for new calls {MAX_ROUNDS} times")
