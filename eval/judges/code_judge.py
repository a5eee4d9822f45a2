"""Registration of the code-execution judge (HumanEval / MBPP pass@1); the work is in code_exec.py and
sandbox.py, which this file only calls."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from plot_eval.judges.base import Judge
from plot_eval.registry import JUDGES

RULES = "code-exec-v1"


@dataclass
class CodeExecSettings:
    timeout_s: float = 10.0
    """Wall-clock limit of each sandbox call (a verdict takes two or more, see plot_eval.judges.code_exec)."""
    memory_mb: int = 1024
    """Memory limit of each sandbox call: every process of the call together, and each one's address space."""
    allow_unsandboxed: bool = False
    """Run model code without isolation where the sandbox cannot be set up (unsafe; explicit opt-in)."""


@JUDGES.register("code_exec", settings=CodeExecSettings, metrics=("accuracy",))
class CodeExecJudge(Judge):
    """Outcome judge: `correct` when the extracted code's outputs pass the benchmark's tests, replayed
    outside its process; `reason` says why not. Items need `tests`, `entry_point` and
    `reference_solution` (a module that passes the tests: it shows which calls the tests make)."""

    def identity(self) -> dict:
        from plot_eval.judges.code_exec import RULES_VERSION

        return {"rules": f"{RULES}|{RULES_VERSION}", **dataclasses.asdict(self.settings)}

    def check(self, item) -> None:
        """Before any generation: the sandbox can be set up (or the user opted out), the item has tests."""
        from plot_eval.judges.sandbox import require_isolation

        require_isolation(self.settings.allow_unsandboxed)
        for name in ("tests", "entry_point", "reference_solution"):
            if not item.reference.get(name):
                raise ValueError(f"field {name!r}: missing (the code_exec judge needs it)")

    def outcome(self, item, prompt: str, response: str) -> dict:
        from plot_eval.judges.code_exec import judge_code

        verdict = judge_code(
            response,
            item.reference["tests"],
            item.reference["entry_point"],
            reference=item.reference["reference_solution"],
            prompt=item.reference.get("code_prefix", ""),
            **dataclasses.asdict(self.settings),  # the limits of each sandbox call
        )
        label = "correct" if verdict.passed else "incorrect"
        return {"label": label, "score": None, "judged": verdict.judged, "reason": verdict.reason}
