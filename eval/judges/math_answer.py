"""Math answers checked symbolically with Hugging Face's math-verify (LaTeX and plain expressions).

The gold answer (a LaTeX string such as ``\\frac{14}{3}``, ``3\\sqrt{13}``, ``6 - 5i``, ``(-\\infty, 2]``,
``(1, 2)``, ``\\text{east}``, ``0.5``) is parsed inside ``$...$``. The response's final answer is found
(rules `RULES`):
- with math delimiters (``\\boxed{}``, ``$...$``, ``\\(...\\)``, ``\\[...\\]``): the way math-verify does;
- without them, the text after the last "answer is / answer: / final answer:" up to the end of its sentence
  or line (a full stop ends it: ``The answer is 14/3.`` reads ``14/3``), else the last line after its last
  ``=``, else the last line when it is an expression (no word but pi, sqrt, sin, ...); that text is parsed
  as LaTeX as a whole (``The answer is 12\\pi`` reads 12*pi, never its leading 12; words alone read as
  ``\\text{...}``). Only a response with none of these (a last line in prose) falls back to math-verify's
  own search.
An escaped dollar (``\\$32,\\!348``) is a currency sign, not a delimiter. Correct when math-verify finds the
answers equivalent (``0.5`` = ``\\frac{1}{2}``, simplified expressions, the same interval, set, tuple or
text) and, where the answer names a base (``52_8``), the bases agree. A gold answer that math-verify cannot
parse is an error (raised by `check` before any generation, naming set, file and row).
"""

from __future__ import annotations

import re
from importlib import metadata

from plot_eval.judges.base import Judge
from plot_eval.registry import JUDGES

RULES = "math-verify-latex+expr-v2"
_DELIMITED = re.compile(r"\$|\\boxed|\\\(|\\\[")
_MARKER = re.compile(r"(?:final answer|answer)\s*(?:is|:|=)\s*:?", re.IGNORECASE)
_SENTENCE_END = re.compile(r"\.(?=\s|$)|\n")
_DECORATION = " \t*_`'\",;"  # never "!": a factorial
_WORDS = re.compile(r"[A-Za-z][A-Za-z ]*")
_BASE = re.compile(r"_\{?(\d+)\}?\s*$")
_PLAIN_WORD = re.compile(r"(?<![\\A-Za-z])[A-Za-z]{2,}")
_MATH_WORDS = {"pi", "sqrt", "sin", "cos", "tan", "log", "ln", "exp", "inf", "infty", "mod"}


def _configs():
    from math_verify import ExprExtractionConfig, LatexExtractionConfig

    return [LatexExtractionConfig(), ExprExtractionConfig()]


def _without_currency(text: str) -> str:
    return text.replace("\\$", "")


def parse_gold(gold: str):
    """math-verify's parse of a gold answer; raises ValueError when nothing can be read."""
    from math_verify import parse

    text = _without_currency(gold).strip()
    parsed = parse(text if _DELIMITED.search(text) else f"${text}$", extraction_config=_configs())
    if not parsed:
        raise ValueError(f"math-verify cannot read the gold answer {gold[-80:]!r}")
    return parsed


def plain_final_answer(response: str) -> str | None:
    """The final answer of a response written without math delimiters (module docstring), or None."""
    marks = list(_MARKER.finditer(response))
    if marks:
        tail = response[marks[-1].end() :]
    else:
        lines = [line for line in response.splitlines() if line.strip()]
        if not lines:
            return None
        words = {word.lower() for word in _PLAIN_WORD.findall(lines[-1])}
        if "=" not in lines[-1] and not words <= _MATH_WORDS:
            return None  # a sentence without a marked answer: left to math-verify's own search
        tail = lines[-1].rsplit("=", 1)[-1]
    answer = _SENTENCE_END.split(tail.strip(_DECORATION), maxsplit=1)[0].strip(_DECORATION)
    return answer or None


def _parse_answer(response: str):
    from math_verify import parse

    text = _without_currency(response)
    plain = None if _DELIMITED.search(text) else plain_final_answer(text)
    if plain is None:
        return parse(text, extraction_config=_configs())
    wrapped = f"\\text{{{plain}}}" if _WORDS.fullmatch(plain) and len(plain) > 1 else plain
    return parse(f"${wrapped}$", extraction_config=_configs())


def _base(parsed) -> str | None:
    found = _BASE.search(str(parsed[-1])) if parsed else None
    return found.group(1) if found else None


def math_correct(response: str, gold: str) -> bool:
    """True when the final answer of ``response`` is equivalent to ``gold`` (math-verify)."""
    from math_verify import verify

    answer, expected = _parse_answer(response), parse_gold(gold)
    if not answer or not verify(expected, answer):
        return False
    return _base(answer) in (None, _base(expected))  # "52_9" is not "52_8", though both parse to 52


@JUDGES.register("math", metrics=("accuracy",))
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
