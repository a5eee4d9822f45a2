"""Registration of the code-execution judge (HumanEval / MBPP pass@1); the work is in code_exec.py and
sandbox.py, which this file only calls."""

from __future__ import annotations

from dataclasses import dataclass

from plot_eval.judges.base import Judge
from plot_eval.registry import JUDGES

RULES = "code-exec-v1"


@dataclass
class CodeExecSettings:
    timeout_s: float = 10.0
    """Wall-clock limit of one test run."""
    memory_mb: int = 1024
    """Address-space limit of the sandboxed test process."""
    allow_unsandboxed: bool = False
    """Run model code without isolation where the sandbox cannot be set up (unsafe; explicit opt-in)."""


@JUDGES.register("code_exec", settings=CodeExecSettings, metrics=("accuracy",))
class CodeExecJudge(Judge):
    """Outcome judge: `correct` when the extracted code passes the benchmark's tests in the sandbox."""

    def identity(self) -> dict:
        from plot_eval.judges.code_exec import RULES_VERSION

        return {
            "rules": f"{RULES}|{RULES_VERSION}",
            "timeout_s": self.settings.timeout_s,
            "memory_mb": self.settings.memory_mb,
            "allow_unsandboxed": self.settings.allow_unsandboxed,
        }

    def check(self, item) -> None:
        """Before any generation: the sandbox can be set up (or the user opted out), the item has tests."""
        from plot_eval.judges.sandbox import require_isolation

        require_isolation(self.settings.allow_unsandboxed)
        for name in ("tests", "entry_point"):
            if not item.reference.get(name):
                raise ValueError(f"field {name!r}: missing (the code_exec judge needs it)")

    def outcome(self, item, prompt: str, response: str) -> dict:
        from plot_eval.judges.code_exec import code_passes

        passed = code_passes(
            response,
            item.reference["tests"],
            item.reference["entry_point"],
            prompt=item.reference.get("code_prefix", ""),
            timeout_s=self.settings.timeout_s,
            memory_mb=self.settings.memory_mb,
            allow_unsandboxed=self.settings.allow_unsandboxed,
        )
        return {"label": "correct" if passed else "incorrect", "score": None}
