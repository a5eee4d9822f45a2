"""The record / outputs / replay steps behind a code verdict, through judge_code in the real sandbox:
what is recorded, tests whose inputs depend on outputs, arguments the tests build, exceptions, exact types,
and what cannot be judged this way (never a pass)."""

from __future__ import annotations

import pytest

from plot_eval.judges.code_exec import MAX_ROUNDS, judge_code
from plot_eval.judges.sandbox import run_job

pytestmark = pytest.mark.usefixtures("isolated_sandbox")
LIMITS = {"timeout_s": 60}


def _judge(answer: str, tests: str, reference: str, entry_point: str = "f"):
    return judge_code(f"```python\n{answer}\n```", tests, entry_point, reference=reference, **LIMITS)


def test_record_keeps_the_tests_calls_only_before_they_run():
    """fact recurses through its own name (4 inner calls not recorded); sort_in_place mutates its argument
    (recorded as passed: [3, 1, 2])."""
    reference = "def fact(n):\n    return 1 if n < 2 else n * fact(n - 1)\n"
    job = {"mode": "record", "reference": reference, "tests": "assert fact(5) == 120", "entry_point": "fact"}
    assert run_job(job, **LIMITS).report == {"calls": [{"args": [{"value": 5}], "kwargs": []}]}
    reference = "def sort_in_place(xs):\n    xs.sort()\n    return xs\n"
    tests = "assert sort_in_place([3, 1, 2]) == [1, 2, 3]\nassert sort_in_place(xs=[2, 1]) == [1, 2]"
    job.update(reference=reference, tests=tests, entry_point="sort_in_place")
    assert run_job(job, **LIMITS).report["calls"] == [
        {"args": [{"value": [3, 1, 2]}], "kwargs": []},
        {"args": [], "kwargs": [["xs", {"value": [2, 1]}]]},
    ]


def test_inputs_that_depend_on_outputs_are_asked_for_in_another_round():
    """The reference (x + 1) makes the tests call f(2), f(3); the answer (x + 5) makes them call f(7),
    which only a second round can answer: 12 > 7 passes; x - 5 gives f(-3) = -8 and fails."""
    tests = "y = f(2)\nassert f(y) > y"
    verdict = _judge("def f(x):\n    return x + 5", tests, "def f(x):\n    return x + 1\n")
    assert verdict.passed and verdict.judged
    assert not _judge("def f(x):\n    return x - 5", tests, "def f(x):\n    return x + 1\n").passed


def test_endless_new_inputs_are_not_judged():
    tests = "y = 0\nfor _ in range(10):\n    y = f(y)\nassert y >= 10"
    verdict = _judge("def f(x):\n    return x + 2", tests, "def f(x):\n    return x + 1\n")
    assert (verdict.passed, verdict.judged) == (False, False)
    assert f"{MAX_ROUNDS} times" in verdict.reason


TREE_REFERENCE = (
    "class Node:\n    def __init__(self, left=None):\n        self.left = left\n"
    "def depth(node):\n    return 0 if node is None else 1 + depth(node.left)\n"
)


def test_arguments_the_tests_build_are_passed_by_name():
    """MBPP 367 / 927 style: the setup builds a tree of the solution's own Node class."""
    tests = "root = Node(Node(Node()))\nassert depth(root) == 3\nassert depth(None) == 0"
    answer = "class Node:\n    def __init__(self, left=None):\n        self.left = left\ndef depth(n):\n"
    right = answer + "    return 0 if n is None else 1 + depth(n.left)"
    assert _judge(right, tests, TREE_REFERENCE, "depth").passed
    assert not _judge(answer + "    return 2", tests, TREE_REFERENCE, "depth").passed


def test_an_argument_that_is_neither_plain_nor_nameable_is_not_judged():
    """A local of check(): neither a global of the tests nor an expression that stands alone."""
    tests = "def check(candidate):\n    box = object()\n    assert candidate(box) == 1\n"
    verdict = _judge("def f(x):\n    return 1", tests, "def f(x):\n    return 1\n")
    assert (verdict.passed, verdict.judged) == (False, False) and "object" in verdict.reason


def test_exceptions_cross_by_built_in_name():
    tests = "try:\n    f(-1)\nexcept ValueError:\n    pass\nelse:\n    raise AssertionError('no error')"
    reference = "def f(x):\n    if x < 0:\n        raise ValueError(x)\n    return x\n"
    assert _judge(reference, tests, reference).passed
    assert not _judge("def f(x):\n    return x", tests, reference).passed
    own_error = "class ValueError(Exception):\n    pass\ndef f(x):\n    raise ValueError(x)"
    assert not _judge(own_error, tests, reference).passed  # its own class named ValueError is not one
    subclass = "class Negative(ValueError):\n    pass\ndef f(x):\n    raise Negative(x)"
    assert _judge(subclass, tests, reference).passed  # `except ValueError` catches a subclass


def test_types_are_exact_and_floats_are_compared_as_the_tests_say():
    reference = "def f():\n    return (1, 2)\n"
    assert not _judge("def f():\n    return [1, 2]", "assert f() == (1, 2)", reference).passed
    assert _judge("def f():\n    return (1, 2)", "assert f() == (1, 2)", reference).passed
    tests = "assert abs(f() - 0.3) < 1e-9"
    assert _judge("def f():\n    return 0.1 + 0.2", tests, "def f():\n    return 0.3\n").passed
    assert not _judge(
        "def f():\n    return 0.1 + 0.2", "assert f() == 0.3", "def f():\n    return 0.3\n"
    ).passed


def test_outputs_that_are_not_plain_data_fail_the_test_that_reads_them():
    verdict = _judge(
        "def f():\n    return iter([1])", "assert list(f()) == [1]", "def f():\n    return [1]\n"
    )
    assert not verdict.passed and verdict.judged and "not plain data" in verdict.reason


def test_a_reference_that_fails_its_tests_is_not_judged():
    verdict = _judge("def f():\n    return 1", "assert f() == 2", "def f():\n    return 1\n")
    assert (verdict.passed, verdict.judged) == (False, False) and "reference" in verdict.reason


PAIR = "class Pair:\n    def __init__(self, a, b):\n        self.a, self.b = a, b\n"


def test_arguments_built_inside_the_assert_are_passed_as_its_expression():
    """MBPP 601 style: the list of Pair objects is built in the assert line itself; the answer's process
    builds it again from the expression, with the answer's own Pair class."""
    reference = PAIR + "def longest(pairs, n):\n    return max(p.b - p.a for p in pairs[:n])\n"
    tests = "assert longest([Pair(1, 5), Pair(2, 3)], 2) == 4\nassert longest(n=1, pairs=[Pair(0, 9)]) == 9"
    assert _judge(reference, tests, reference, "longest").passed
    wrong = PAIR + "def longest(pairs, n):\n    return min(p.b - p.a for p in pairs[:n])\n"
    assert not _judge(wrong, tests, reference, "longest").passed


def test_an_expression_using_a_name_the_tests_assign_is_not_judged():
    """`i` differs from call to call while the expression's text does not: no key could tell them apart."""
    reference = PAIR + "def first(pair):\n    return pair.a\n"
    tests = "for i in range(3):\n    assert first(Pair(i, 0)) == i"
    verdict = _judge(reference, tests, reference, "first")
    assert (verdict.passed, verdict.judged) == (False, False)


def test_types_as_arguments():
    """MBPP 533: remove_datatype((4, 7.7), int) passes the type int itself."""
    reference = "def drop(values, kind):\n    return [v for v in values if not isinstance(v, kind)]\n"
    tests = "assert drop((4, 7.7), int) == [7.7]\nassert drop((4, 'a'), str) == [4]"
    assert _judge(reference, tests, reference, "drop").passed
    assert not _judge("def drop(values, kind):\n    return list(values)", tests, reference, "drop").passed


SETUP_READER = """
import re, sys
def _leaked():
    frames = list(sys._current_frames().values())
    while frames:
        frame = frames.pop()
        for value in list(frame.f_locals.values()):
            if isinstance(value, dict) and isinstance(value.get("setup"), str):
                found = re.findall(r"== (\\d+)", value["setup"])
                if found:
                    return int(found[0])
        if frame.f_back is not None:
            frames.append(frame.f_back)
def depth(node):
    return _leaked()
"""


def test_setup_statements_given_to_the_answer_hold_no_assert():
    """The tests' setup runs in the answer's process when a global is an argument; a compound statement
    with an assert inside would show (and run) an expected value there."""
    tests = "root = Node(Node())\nif root is not None:\n    assert depth(root) == 2\n"
    node = TREE_REFERENCE.split("def depth")[0]
    assert not _judge(node + SETUP_READER, tests, TREE_REFERENCE, "depth").passed
