"""Code correctness by execution (HumanEval / MBPP pass@1).

The sandbox (``plot_eval.judges.sandbox.run_tests``) runs the solution, then the benchmark's tests in the same
namespace, then ``check(entry_point)`` when the tests define a HumanEval-style ``check``; the code passes
only if its harness saw all of that finish (an early ``sys.exit(0)`` is a failure). The model's code is
the first fenced block that defines ``entry_point`` (else the first fenced block, else the raw response).
HumanEval models often write only the function body, or the whole function without the imports and helper
functions of the prompt (HumanEval/10, 32, 38 and 50 call a helper the prompt defines), so when ``prompt``
is given the solution is the prompt followed by the code: a body completes the prompt's function, a full
definition replaces the prompt's stub and keeps its imports and helpers.
"""

from __future__ import annotations

import re

from plot_eval.judges.sandbox import run_tests

RULES_VERSION = "sandbox-harness-2"  # in verdict cache keys: v1 dropped prompt helpers, trusted exit codes
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


def _compiles(code: str) -> bool:
    try:
        compile(code, "prompt", "exec")
    except SyntaxError:
        return False
    return True


def _with_prompt(code: str, prompt: str, entry_point: str) -> str:
    if not prompt:
        return code
    if not _defines(code, entry_point):
        return prompt + code  # a completion of the prompt's function body
    if _compiles(prompt):  # the prompt's stub (signature + docstring) is valid; the code's def replaces it
        return f"{prompt}\n\n{code}"
    imports = [line for line in prompt.splitlines() if line.startswith(("import ", "from "))]
    return "\n".join(imports + [code])


def build_solution(response: str, entry_point: str, *, prompt: str = "") -> str:
    """The solution module that ``code_passes`` runs before the tests."""
    return _with_prompt(extract_code(response, entry_point), prompt, entry_point)


def code_passes(
    response: str,
    tests: str,
    entry_point: str,
    *,
    prompt: str = "",
    timeout_s: float = 10.0,
    memory_mb: int = 1024,
    allow_unsandboxed: bool = False,
) -> bool:
    """True when the code in ``response`` passes ``tests`` in the sandbox within the limits. Raises
    ``SandboxUnavailableError`` where the sandbox cannot be set up, unless ``allow_unsandboxed``."""
    solution = build_solution(response, entry_point, prompt=prompt)
    return run_tests(
        solution,
        tests,
        entry_point,
        timeout_s=timeout_s,
        memory_mb=memory_mb,
        allow_unsandboxed=allow_unsandboxed,
    ).passed
