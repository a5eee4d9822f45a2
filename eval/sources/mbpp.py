"""MBPP `{"text", "code", "task_id", "test_setup_code", "test_list": [assert ...]}`.

Standard splits by task_id: prompt 1-10, test 11-510, validation 511-600, train 601-974.
`exclude_names_file` (a Reflexion MBPP-py run, names `mbpp_<task_id>_<fn>`) drops the problems that also
appear in the code preference pairs. The prompt states the function name and the first test. The function
under test is the one the first test calls among those `code` (the reference solution) defines: helpers come
first in some rows."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from plot_eval.registry import SOURCES
from plot_eval.sources.base import PromptItem, SourceRowError, read_jsonl, require, user_prompt

SPLITS = {"prompt": (1, 10), "test": (11, 510), "validation": (511, 600), "train": (601, 974)}
_DEF = re.compile(r"^def\s+(\w+)\s*\(", re.MULTILINE)


def excluded_task_ids(path: Path) -> set[int]:
    ids = set()
    for row_no, row in read_jsonl(path):
        parts = require(path, row_no, row, "name").split("_")
        if len(parts) < 2 or not parts[1].isdigit():
            raise SourceRowError(path, row_no, "name", "expected 'mbpp_<task_id>_<fn>'")
        ids.add(int(parts[1]))
    return ids


def _tested_function(path: Path, row_no: int, code: str, first_test: str) -> str:
    defined = set(_DEF.findall(code))
    if not defined:
        raise SourceRowError(path, row_no, "code", "no 'def <name>(' in the reference solution")
    try:
        calls = [node for node in ast.walk(ast.parse(first_test)) if isinstance(node, ast.Call)]
    except SyntaxError as error:
        raise SourceRowError(
            path, row_no, "test_list", f"the first test is not Python ({error.msg})"
        ) from None
    for call in calls:
        if isinstance(call.func, ast.Name) and call.func.id in defined:
            return call.func.id
    raise SourceRowError(path, row_no, "test_list", f"the first test calls none of {sorted(defined)}")


@SOURCES.register("mbpp")
def load(path: Path, *, split: str = "test", exclude_names_file: Path | None = None) -> list[PromptItem]:
    if split not in SPLITS:
        raise ValueError(f"mbpp split must be one of {list(SPLITS)}, got {split!r}")
    low, high = SPLITS[split]
    excluded = excluded_task_ids(exclude_names_file) if exclude_names_file else set()
    items = []
    for row_no, row in read_jsonl(path):
        task_id = require(path, row_no, row, "task_id", int)
        if not low <= task_id <= high or task_id in excluded:
            continue
        tests = require(path, row_no, row, "test_list", list)
        if not tests or not all(isinstance(t, str) for t in tests):
            raise SourceRowError(path, row_no, "test_list", "expected a non-empty list of assert strings")
        code = require(path, row_no, row, "code")
        entry_point = _tested_function(path, row_no, code, tests[0])
        text = f"{require(path, row_no, row, 'text')}\nYour code should pass this test:\n{tests[0]}"
        setup = row.get("test_setup_code") or ""
        items.append(
            user_prompt(
                f"mbpp:{task_id}",
                text,
                tests=setup + "\n" + "\n".join(tests),
                entry_point=entry_point,
                reference_solution=code,
            )
        )
    return items
