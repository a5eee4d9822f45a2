"""Code correctness by execution (HumanEval / MBPP pass@1).

The program run in the sandbox is: the model's code, then the benchmark's tests, then ``check(entry_point)``
when the tests define a HumanEval-style ``check``. The model's code is the first fenced block that defines
``entry_point`` (else the first fenced block, else the raw response). HumanEval models often write only the
function body or omit the imports in the prompt, so when ``prompt`` is given the code is appended to it
unless the code defines ``entry_point`` itself; then the prompt's import lines are still kept.
"""

from __future__ import annotations

import re

from eval.judges.sandbox import run_python

_FENCE = re.compile(r"```[ \t]*([\w+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)


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
        defining = [b for b in blocks if re.search(rf"def\s+{re.escape(entry_point)}\s*\(", b)]
        if defining:
            return defining[0]
    return blocks[0]


def _with_prompt(code: str, prompt: str, entry_point: str) -> str:
    if not prompt:
        return code
    if re.search(rf"def\s+{re.escape(entry_point)}\s*\(", code):
        imports = [line for line in prompt.splitlines() if line.startswith(("import ", "from "))]
        return "\n".join(imports + [code])
    return prompt + code  # a completion of the prompt's function body


def build_program(response: str, tests: str, entry_point: str, *, prompt: str = "") -> str:
    """The full program text that ``code_passes`` runs."""
    code = _with_prompt(extract_code(response, entry_point), prompt, entry_point)
    program = f"{code}\n\n{tests}\n"
    if re.search(r"def\s+check\s*\(", tests):
        program += f"\ncheck({entry_point})\n"
    return program


def code_passes(
    response: str,
    tests: str,
    entry_point: str,
    *,
    prompt: str = "",
    timeout_s: float = 10.0,
    memory_mb: int = 1024,
) -> bool:
    """True when the code in ``response`` passes ``tests`` in the sandbox within the limits."""
    return run_python(
        build_program(response, tests, entry_point, prompt=prompt), timeout_s=timeout_s, memory_mb=memory_mb
    ).passed
