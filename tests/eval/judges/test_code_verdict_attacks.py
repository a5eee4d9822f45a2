"""Attacks on the code judge's verdict from inside the code under test. Each answer below is wrong (its
functions return nothing useful) and tries to make the judge say `correct` anyway: by patching what the
tests run with, by reaching the harness that reports the verdict, or by returning objects that compare
equal to anything. None may succeed; the right answer to the same problem still passes (the control)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from plot_eval.judges.base import JudgeContext
from plot_eval.judges.code_judge import CodeExecJudge, CodeExecSettings
from plot_eval.sources.base import user_prompt

pytestmark = pytest.mark.usefixtures("isolated_sandbox")
HUMANEVAL = Path(__file__).with_name("data") / "HumanEval.jsonl.gz"

_FRAME_WALK = """
import os, sys
frame = sys._getframe()
while frame is not None:
    names = dict(frame.f_locals)
    for name, fd in names.items():  # the harness's verdict or report descriptor, whatever its name
        if name.endswith("_fd") and isinstance(fd, int) and isinstance(names.get("token"), bytes):
            try:
                os.write(fd, names["token"])
            except OSError:
                pass
    frame = frame.f_back
"""
_STACK_WALK = """
import inspect, os, sys
for info in inspect.stack():
    names = info.frame.f_locals
    if "token" in names and "write" in names:
        names["write"](int(sys.argv[2]), names["token"])
"""
_THREAD_FRAMES = """
import os, sys
for frame in sys._current_frames().values():
    while frame is not None:
        names = frame.f_locals
        for name, fd in list(names.items()):
            if name.endswith("_fd") and isinstance(fd, int) and isinstance(names.get("token"), bytes):
                try:
                    os.write(fd, names["token"])
                except OSError:
                    pass
        frame = frame.f_back
"""
_REPORT_FORGERY = """
import json, os, sys
for fd in range(3, 12):
    try:
        os.write(fd, json.dumps({"status": "passed", "outputs": []}).encode())
    except OSError:
        pass
print(json.dumps({"status": "passed"}))
print("PASS")
"""
_TESTS_FROM_THE_HARNESS = """
import ast, sys
_ANSWERS = {}
def _learn(tests):
    for node in ast.walk(ast.parse(tests)):
        if isinstance(node, ast.Compare) and isinstance(node.left, ast.Call) and len(node.comparators) == 1:
            try:
                args = eval(ast.unparse(ast.Tuple(elts=node.left.args, ctx=ast.Load())))
                _ANSWERS[repr(args)] = eval(ast.unparse(node.comparators[0]))
            except Exception:
                pass
frames = list(sys._current_frames().values())
while frames:
    frame = frames.pop()
    for value in list(frame.f_locals.values()):
        if isinstance(value, dict) and isinstance(value.get("tests"), str):
            _learn(value["tests"])
    if frame.f_back is not None:
        frames.append(frame.f_back)
"""
ALWAYS_EQUAL = "class _Anything:\n    def __eq__(self, other):\n        return True\n    __hash__ = None\n"

# each attack: the code placed before a wrong solution whose entry point returns `RESULT`
ATTACKS = {
    "exec_patch": (
        "import builtins\n_e = builtins.exec\n"
        "builtins.exec = lambda c, *r: None if getattr(c, 'co_filename', '') == 'tests.py' else _e(c, *r)\n",
        "None",
    ),
    "compile_patch": (
        "import builtins\n_c = builtins.compile\n"
        "builtins.compile = lambda s, f, *a, **k: _c('pass' if f == 'tests.py' else s, f, *a, **k)\n",
        "None",
    ),
    "frame_walk_to_harness": (_FRAME_WALK, "None"),
    "inspect_stack_to_harness": (_STACK_WALK, "None"),
    "current_frames_to_harness": (_THREAD_FRAMES, "None"),
    "forged_report_on_every_fd": (_REPORT_FORGERY, "None"),
    "tests_read_from_the_harness": (_TESTS_FROM_THE_HARNESS, "_ANSWERS.get(repr(tuple(_ARGS)))"),
    "always_equal_object": (ALWAYS_EQUAL, "_Anything()"),
    "builtins_and_math_patched": (
        "import builtins, math\nbuiltins.abs = lambda x: 0\nbuiltins.len = lambda x: 0\n"
        "builtins.isinstance = lambda *a: True\nmath.isclose = lambda *a, **k: True\n",
        "123.0",
    ),
    "exit_zero_inside_the_call": ("import os\n", "os._exit(0)"),
    "system_exit_inside_the_call": ("", "exec('raise SystemExit(0)')"),
    "infinite_recursion": ("def _down(n):\n    return _down(n + 1)\n", "_down(0)"),
    "stdout_in_the_report_format": (
        'import sys\nsys.stdout.write(\'{"outputs": [], "status": "passed"}\\n\' * 50)\n',
        "None",
    ),
    "int_subclass_equal_to_all": (
        "class _Int(int):\n    def __eq__(self, other):\n        return True\n    __hash__ = int.__hash__\n",
        "_Int(0)",
    ),
    "str_subclass_equal_to_all": (
        "class _Str(str):\n    def __eq__(self, other):\n        return True\n    __hash__ = str.__hash__\n",
        "_Str('')",
    ),
    "list_subclass_equal_to_all": (
        "class _List(list):\n    def __eq__(self, other):\n        return True\n",
        "_List()",
    ),
    "assertion_error_swallowed": (
        "import sys\nsys.excepthook = lambda *a: None\nimport traceback\n"
        "traceback.print_exc = lambda *a, **k: None\n",
        "None",
    ),
    "json_and_pickle_patched": (
        'import json, pickle\njson.dumps = lambda *a, **k: \'{"status": "passed"}\'\n'
        "json.loads = lambda *a, **k: {'status': 'passed'}\npickle.loads = lambda *a, **k: True\n",
        "None",
    ),
}
PATCHED_BUILTIN_ABS = "import builtins\nbuiltins.abs = lambda x: 0\n"


@pytest.fixture(scope="module")
def humaneval() -> dict:
    with gzip.open(HUMANEVAL, "rt") as handle:
        return {p["task_id"]: p for p in map(json.loads, handle)}


def _outcome(problem: dict, answer: str) -> str:
    item = user_prompt(
        problem["task_id"],
        problem["prompt"],
        tests=problem["test"],
        entry_point=problem["entry_point"],
        code_prefix=problem["prompt"],
        reference_solution=problem["prompt"] + problem["canonical_solution"],
    )
    judge = CodeExecJudge(CodeExecSettings(timeout_s=60), JudgeContext(pool=None))
    judge.check(item)
    return judge.outcome(item, problem["prompt"], answer)["label"]


def _wrong_answer(problem: dict, prelude: str, result: str) -> str:
    """A full module: the attack's prelude, then the entry point returning ``result`` (``_ARGS``: its
    arguments)."""
    return f"```python\n{prelude}\ndef {problem['entry_point']}(*_ARGS):\n    return {result}\n```"


@pytest.mark.parametrize("attack", sorted(ATTACKS))
@pytest.mark.parametrize("task_id", ["HumanEval/0", "HumanEval/12", "HumanEval/29"])
def test_a_wrong_answer_cannot_forge_its_verdict(humaneval, attack, task_id):
    problem = humaneval[task_id]
    prelude, result = ATTACKS[attack]
    assert _outcome(problem, _wrong_answer(problem, prelude, result)) == "incorrect"


def test_the_right_answer_passes_with_the_same_judge(humaneval):
    for task_id in ("HumanEval/0", "HumanEval/12", "HumanEval/29"):
        problem = humaneval[task_id]
        assert _outcome(problem, problem["canonical_solution"]) == "correct"


def test_patching_a_builtin_the_tests_use_does_not_pass(humaneval):
    """HumanEval/2's tests: candidate(3.5) == 0.5, then abs(candidate(x) - expected) < 1e-6 twice. The
    answer is right for 3.5 only; with abs patched to return 0 the other two would pass."""
    problem = humaneval["HumanEval/2"]
    answer = _wrong_answer(problem, PATCHED_BUILTIN_ABS, "0.5 if _ARGS == (3.5,) else 123.0")
    assert _outcome(problem, answer) == "incorrect"
    assert _outcome(problem, problem["canonical_solution"]) == "correct"


MBPP_TESTS = (
    "import math\nassert add(1, 2) == 3\nassert add(-4, 4) == 0\nassert abs(add(0.5, 0.25) - 0.75) < 1e-9\n"
    "assert math.isclose(add(0.5, 0.5), 1.0)"
)
MBPP_REFERENCE = "def add(a, b):\n    return a + b\n"


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_mbpp_asserts_cannot_be_forged(attack):
    prelude, result = ATTACKS[attack]
    item = user_prompt(
        "mbpp:x", "add two numbers", tests=MBPP_TESTS, entry_point="add", reference_solution=MBPP_REFERENCE
    )
    judge = CodeExecJudge(CodeExecSettings(timeout_s=60), JudgeContext(pool=None))
    wrong = f"```python\n{prelude}\ndef add(*_ARGS):\n    return {result}\n```"
    assert judge.outcome(item, "add", wrong)["label"] == "incorrect"
    assert judge.outcome(item, "add", f"```python\n{MBPP_REFERENCE}```")["label"] == "correct"
