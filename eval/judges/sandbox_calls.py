"""The three sandbox calls behind a code verdict; run by ``sandbox_harness.py``, standard library only.

- ``record`` (trusted code only): runs the reference solution under the benchmark's tests and records
  every call the tests make to the function under test, as plain data (``plain_data.py``).
- ``outputs`` (the untrusted answer): defines the answer's functions and calls the function under test on
  each recorded call; returns each result as plain data, or the name of what it raised. Nothing else
  comes out of this process, and it never sees the tests or an expected value.
- ``replay`` (trusted code only): runs the benchmark's tests again, over the reference module's helpers,
  with the function under test replaced by a lookup of the answer's outputs. The tests' own assertions
  decide; a call that was not recorded (a test whose inputs depend on earlier outputs) is reported back,
  and the judge gets the answer's output for it in another round.

An argument that is not plain data is passed as the tests name or build it: a global of the tests (e.g. a
tree the MBPP setup code builds) by name, or the tests' expression for it (``[Pair(5, 24)]``, located by
the call's position in the bytecode) as source; the ``outputs`` call evaluates it among the answer's
definitions (so it may use no name the tests assign). Anything else is refused (never judged).
"""

from __future__ import annotations

import ast
import builtins
import json
import linecache
import random
import sys

try:  # in the sandbox this file runs beside a copy of plain_data.py (standard library only)
    import plain_data
except ModuleNotFoundError:  # imported as part of the package (the judge's own tests and tools)
    from plot_eval.judges import plain_data

_TESTS_SEED = 0  # the tests' unseeded `random` draws the same inputs when recorded and when replayed


class _NewCall(BaseException):  # not an Exception: the tests' own `except Exception` cannot swallow it
    def __init__(self, call: dict):
        super().__init__("a call that was not recorded")
        self.call = call


def execute(source: str, filename: str, namespace: dict) -> None:
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)  # for tracebacks
    exec(compile(source, filename, "exec"), namespace)


def call_key(call: dict) -> str:
    return json.dumps(call, sort_keys=True)


def _module(source: str, filename: str) -> dict:
    namespace = {"__name__": "solution", "__builtins__": builtins}
    execute(source, filename, namespace)
    return namespace


def _assigned(tree: ast.AST) -> set[str]:
    """Names the tests assign: an expression using one may mean different values at different calls."""
    return {
        node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)
    }


def _argument_source(caller, position: int | str) -> str | None:
    """The tests' source of one argument of the call being made from frame ``caller`` (the call's exact
    position comes from the bytecode), or None when it cannot stand alone: a name the tests assign or a
    function's local in it, a starred argument, or a call not made by the tests' own code."""
    code = caller.f_code
    if code.co_filename != "tests.py":
        return None
    where = list(code.co_positions())[caller.f_lasti // 2]
    tree = ast.parse("".join(linecache.getlines("tests.py")))
    for node in ast.walk(tree):
        span = (
            (node.lineno, node.end_lineno, node.col_offset, node.end_col_offset)
            if isinstance(node, ast.Call)
            else None
        )
        if span != where:
            continue
        if any(isinstance(arg, ast.Starred) for arg in node.args) or any(
            k.arg is None for k in node.keywords
        ):
            return None
        keywords = {keyword.arg: keyword.value for keyword in node.keywords}
        argument = node.args[position] if isinstance(position, int) else keywords[position]
        names = {name.id for name in ast.walk(argument) if isinstance(name, ast.Name)}
        return None if names & (_assigned(tree) | set(code.co_varnames)) else ast.unparse(argument)
    return None


def _encode_argument(value, namespace: dict, caller, position: int | str) -> dict:
    """Plain data; else a global of the tests, by name; else the tests' expression that built it."""
    try:
        return {"value": plain_data.encode(value)}
    except (plain_data.NotPlainDataError, ValueError, RecursionError):
        for name, known in namespace.items():
            if known is value and not name.startswith("__"):
                return {"global": name}
        source = _argument_source(caller, position)
        if source is None:
            raise plain_data.NotPlainDataError(f"an argument of type {type(value).__name__!r}") from None
        return {"expression": source}


def _encode_call(args: tuple, kwargs: dict, namespace: dict, caller) -> dict:
    return {
        "args": [_encode_argument(value, namespace, caller, index) for index, value in enumerate(args)],
        "kwargs": [[name, _encode_argument(v, namespace, caller, name)] for name, v in kwargs.items()],
    }


def _run_tests(job: dict, namespace: dict, function) -> None:
    """The benchmark's tests with ``function`` as the function under test (by name, and as
    ``check(candidate)``'s argument when the tests define a HumanEval-style ``check``)."""
    namespace[job["entry_point"]] = function
    random.seed(_TESTS_SEED)
    execute(job["tests"], "tests.py", namespace)
    check = namespace.get("check")
    if getattr(getattr(check, "__code__", None), "co_filename", None) == "tests.py":
        check(function)


def record(job: dict) -> dict:
    namespace = _module(job["reference"], "reference.py")
    function, calls, depth = namespace.get(job["entry_point"]), {}, [0]
    if not callable(function):
        return {"error": f"the reference solution does not define {job['entry_point']!r}"}

    def recorder(*args, **kwargs):
        if depth[0] == 0:  # the tests' calls, not the reference's recursion through its own name
            call = _encode_call(args, kwargs, namespace, sys._getframe(1))  # before it mutates them
            calls.setdefault(call_key(call), call)
        depth[0] += 1
        try:
            return function(*args, **kwargs)
        finally:
            depth[0] -= 1

    try:
        _run_tests(job, namespace, recorder)
    except (Exception, SystemExit) as error:
        return {"error": f"the reference solution fails the tests: {type(error).__name__}: {error}"[:500]}
    return {"calls": list(calls.values())}


def _argument(argument: dict, namespace: dict):
    if "global" in argument:
        return namespace[argument["global"]]
    if "expression" in argument:  # built here, from the answer's own classes (e.g. MBPP 601's Pair)
        return eval(argument["expression"], namespace)
    return plain_data.decode(argument["value"])


def _output(function, call: dict, namespace: dict) -> dict:
    try:
        args = [_argument(argument, namespace) for argument in call["args"]]
        kwargs = {name: _argument(argument, namespace) for name, argument in call["kwargs"]}
        value = function(*args, **kwargs)
    except BaseException as error:  # an exit inside a call is that call's outcome
        return {"raised": _built_in_base(type(error))}
    try:
        return {"value": plain_data.encode(value)}
    except (plain_data.NotPlainDataError, ValueError, RecursionError) as error:
        return {"unserialisable": str(error)[:200]}


def _built_in_base(kind: type) -> str:
    """The name of the nearest built-in class ``kind`` derives from: what ``except <name>`` catches."""
    for base in kind.__mro__:
        if getattr(builtins, base.__name__, None) is base:
            return base.__name__
    return "BaseException"


def outputs(job: dict) -> dict:
    namespace = _module(job["solution"], "solution.py")
    if job.get("setup"):
        execute(job["setup"], "setup.py", namespace)
    function = namespace.get(job["entry_point"])
    if not callable(function):
        return {"error": f"the answer does not define {job['entry_point']!r}"}
    return {"outputs": [_output(function, call, namespace) for call in job["calls"]]}


def _raised(name: str) -> Exception:
    kind = getattr(builtins, name, None)
    if not (isinstance(kind, type) and issubclass(kind, Exception)):
        kind = RuntimeError  # an exit, or an exception class of the answer's own
    try:
        return kind(f"raised by the answer ({name})")
    except TypeError:  # a built-in exception that needs more arguments
        return RuntimeError(f"raised by the answer ({name})")


def _returned(outcome: dict):
    if "value" in outcome:
        return plain_data.decode(outcome["value"])
    if "raised" in outcome:
        raise _raised(outcome["raised"])
    raise TypeError(f"the answer returned something that is not plain data: {outcome['unserialisable']}")


def replay(job: dict) -> dict:
    namespace = _module(job["reference"], "reference.py")
    answers = {call_key(call): outcome for call, outcome in zip(job["calls"], job["outputs"], strict=True)}

    def answer(*args, **kwargs):
        call = _encode_call(args, kwargs, namespace, sys._getframe(1))
        if call_key(call) not in answers:
            raise _NewCall(call)
        return _returned(answers[call_key(call)])

    try:
        _run_tests(job, namespace, answer)
    except _NewCall as new:
        return {"status": "needs", "call": new.call}
    except plain_data.NotPlainDataError as error:
        return {"status": "unjudgeable", "error": str(error)}
    except (Exception, SystemExit) as error:
        return {"status": "failed", "error": f"{type(error).__name__}: {error}"[:500]}
    return {"status": "passed"}


MODES = {"record": record, "outputs": outputs, "replay": replay}
