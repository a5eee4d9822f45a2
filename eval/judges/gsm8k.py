"""GSM8K exact match on the final number.

Extraction order (first rule that matches wins): the GSM8K gold marker ``#### 18``; ``\\boxed{18}``;
"the (final) answer is 18" / "answer: 18"; otherwise the last number in the text. Numbers are normalised:
thousands commas, ``$`` and a trailing ``%`` dropped, ``18.0`` -> ``18``, ``-0`` -> ``0``.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_NUMBER = r"-?\$?\s?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|-?\$?\.\d+"
_MARKED = [
    re.compile(rf"####\s*({_NUMBER})"),
    re.compile(rf"\\boxed\{{\s*({_NUMBER})"),
    re.compile(rf"(?:final answer|answer)\s*(?:is|:|=)?\s*:?\s*({_NUMBER})", re.IGNORECASE),
]
_ANY_NUMBER = re.compile(_NUMBER)


def normalise_number(raw: str) -> str | None:
    """Canonical text of a number: '1,234.50' -> '1234.5', '$18' -> '18', '18.0' -> '18'; None if invalid."""
    cleaned = raw.replace(",", "").replace("$", "").replace(" ", "").rstrip("%").rstrip(".")
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
