"""GSM8K exact match on the final number, with THE extraction rule shared with the lm-eval task.

`extract_final_number` is the only reader of a final numeric answer in this project: the judge uses it, and
so does the lm-eval filter `plot_final_number` (eval/lm_harness/final_number_filter.py). Rule (`RULES`; the
first that matches wins, its last occurrence): ``#### 18``; ``\\boxed{18}``; "the (final) answer is /
answer:" with optional markdown or math around the number (``**18**``, ``$18$``); else the last number. A
minus sign belongs to a number only when it touches it (``"- 18"`` is a list bullet and reads 18). Numbers
are normalised: thousands commas, ``$`` and a trailing ``%`` dropped, ``18.0`` -> ``18``."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from plot_eval.judges.base import Judge
from plot_eval.registry import JUDGES

RULES = "final-number-v2"
_NUMBER = r"[-\u2212]?\$?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|[-\u2212]?\$?\.\d+"
_DECORATION = r"[\s*_`$\\(\[{]*"
_MARKED = [
    re.compile(rf"####\s*({_NUMBER})"),
    re.compile(rf"\\boxed\{{\s*({_NUMBER})"),
    re.compile(rf"(?:final answer|answer)\s*(?:is|:|=)?\s*:?{_DECORATION}({_NUMBER})", re.IGNORECASE),
]
_ANY_NUMBER = re.compile(rf"(?<![\w.])(?:{_NUMBER})")


def normalise_number(raw: str) -> str | None:
    """Canonical text of a number: '1,234.50' -> '1234.5', '$18' -> '18', '18.0' -> '18'; None if invalid."""
    cleaned = raw.replace("\u2212", "-").replace(",", "").replace("$", "").replace(" ", "")
    cleaned = cleaned.rstrip("%").rstrip(".")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        return None
    if value == value.to_integral_value():
        return str(int(value))
    return format(value.normalize(), "f")


def extract_final_number(text: str) -> str | None:
    """The final numeric answer in ``text`` as a normalised string, or None when there is no number."""
    for pattern in _MARKED:
        matches = pattern.findall(text)
        if matches:
            return normalise_number(matches[-1])
    numbers = _ANY_NUMBER.findall(text)
    return normalise_number(numbers[-1]) if numbers else None


def gsm8k_correct(response: str, gold: str) -> bool:
    """True when the final numbers of ``response`` and ``gold`` (a full GSM8K answer or a bare number) match."""
    gold_number = extract_final_number(gold)
    if gold_number is None:
        raise ValueError(f"gold: no number found in {gold[-80:]!r}")
    return extract_final_number(response) == gold_number


@JUDGES.register("gsm8k", metrics=("accuracy",))
class GSM8KJudge(Judge):
    """Outcome judge: `correct` when the final numbers match, else `incorrect`."""

    def identity(self) -> dict:
        return {"rules": RULES}

    def check(self, item) -> None:
        gold = item.reference.get("gold")
        if not isinstance(gold, str) or extract_final_number(gold) is None:
            raise ValueError(f"field 'gold': no number in {str(gold)[-80:]!r} (the gsm8k judge needs one)")

    def outcome(self, item, prompt: str, response: str) -> dict:
        correct = gsm8k_correct(response, item.reference["gold"])
        return {"label": "correct" if correct else "incorrect", "score": None}
