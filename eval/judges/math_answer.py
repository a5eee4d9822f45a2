"""Math answers checked symbolically with Hugging Face's math-verify (LaTeX and plain expressions).

The gold answer (a LaTeX string such as ``\\frac{14}{3}``, ``3\\sqrt{13}``, ``6 - 5i``, ``(-\\infty, 2]``,
``(1, 2)``, ``\\text{east}``, ``0.5``) is parsed inside ``$...$``; the response is searched for its final
answer the way math-verify does (``\\boxed{}`` first, then LaTeX math, then a plain expression). Correct when
math-verify finds them equivalent: equal numbers and forms (``0.5`` = ``\\frac{1}{2}``), simplified
expressions, the same interval, set or tuple, the same text answer. A gold answer that math-verify cannot
parse is an error (raised by `check` before any generation, naming set, file and row).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import metadata

from plot_eval.judges.base import Judge
from plot_eval.registry import JUDGES

RULES = "math-verify-latex+expr-v1"


def _configs():
    from math_verify import ExprExtractionConfig, LatexExtractionConfig

    return [LatexExtractionConfig(), ExprExtractionConfig()]


def parse_gold(gold: str):
    """math-verify's parse of a gold answer; raises ValueError when nothing can be read."""
    from math_verify import parse

    text = gold.strip()
    parsed = parse(text if "$" in text or "\\boxed" in text else f"${text}$", extraction_config=_configs())
    if not parsed:
        raise ValueError(f"math-verify cannot read the gold answer {gold[-80:]!r}")
    return parsed


def math_correct(response: str, gold: str) -> bool:
    """True when the final answer of ``response`` is equivalent to ``gold`` (math-verify)."""
    from math_verify import parse, verify

    answer = parse(response, extraction_config=_configs())
    return bool(answer) and bool(verify(parse_gold(gold), answer))


@dataclass
class MathSettings:
    """No options: the extraction and comparison are math-verify's defaults (version in the identity)."""


@JUDGES.register("math", settings=MathSettings, metrics=("accuracy",))
class MathJudge(Judge):
    """Outcome judge: `correct` / `incorrect` by math-verify equivalence with the item's `gold`."""

    def identity(self) -> dict:
        return {"rules": RULES, "math-verify": metadata.version("math-verify")}

    def check(self, item) -> None:
        gold = item.reference.get("gold")
        if not isinstance(gold, str) or not gold.strip():
            raise ValueError("field 'gold': missing (the math judge needs a gold answer)")
        parse_gold(gold)

    def outcome(self, item, prompt: str, response: str) -> dict:
        correct = math_correct(response, item.reference["gold"])
        return {"label": "correct" if correct else "incorrect", "score": None}
