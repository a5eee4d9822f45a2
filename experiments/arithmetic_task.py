"""A task with an exact, cheap reward: short arithmetic prompts with a numeric answer.

A prompt asks ``"What is 47 + 38? Answer with the number only."``, after ``shots`` worked examples given as
earlier turns of the conversation (the same fixed examples for every prompt, never used as a problem); the
assistant turn starts with the restated problem, ``"47 + 38 ="``, and the answer is the number after it. The
restatement is part of the task: without it a small instruct model starts "To solve this..." and never
reaches the number in a few tokens. The prefill ends at ``=``: the space before the number is generated, as
the tokenizer writes it in running text (``" 85"``). Training responses are ``"47 + 38 = 85"`` (chosen)
against ``"47 + 38 = 75"`` (rejected): the shared restatement cancels in DPO's log-ratio, so the preference
acts on the answer tokens only.

Operations are named ``<op><digits a>x<digits b>``: ``add2x2`` (two 2-digit numbers), ``mul2x1``, ...
Operands are drawn uniformly from the numbers with exactly that many digits (``1x1`` uses 2..9).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

_OPERATORS = {
    "add": ("+", lambda a, b: a + b),
    "sub": ("-", lambda a, b: a - b),
    "mul": ("x", lambda a, b: a * b),
}
_NAME = re.compile(r"^(add|sub|mul)(\d)x(\d)$")
_LEADING_NUMBER = re.compile(r"\s*(-?\d+(?:[.,]\d+)*)")


@dataclass(frozen=True)
class Problem:
    """One prompt: ``a <symbol> b`` with its exact ``answer``."""

    operation: str
    a: int
    b: int
    shots: tuple[Problem, ...] = field(default=(), compare=False)

    @property
    def symbol(self) -> str:
        return _OPERATORS[_parse(self.operation)[0]][0]

    @property
    def answer(self) -> int:
        return _OPERATORS[_parse(self.operation)[0]][1](self.a, self.b)

    @property
    def key(self) -> str:
        return f"{self.operation}:{self.a}:{self.b}"

    def question(self) -> dict[str, str]:
        return {
            "role": "user",
            "content": f"What is {self.a} {self.symbol} {self.b}? Answer with the number only.",
        }

    def messages(self) -> list[dict[str, str]]:
        """The worked examples as earlier turns, then this question."""
        turns = []
        for shot in self.shots:
            turns += [shot.question(), {"role": "assistant", "content": shot.response(shot.answer)}]
        return [*turns, self.question()]

    def prefill(self) -> str:
        """The start of the assistant turn, restating the problem."""
        return f"{self.a} {self.symbol} {self.b} ="

    def response(self, answer: int | str) -> str:
        """A whole assistant response giving ``answer``."""
        return f"{self.prefill()} {answer}"


def _parse(operation: str) -> tuple[str, int, int]:
    match = _NAME.match(operation)
    if not match:
        raise ValueError(
            f"unknown operation {operation!r}: expected add|sub|mul<digits>x<digits>, e.g. add2x2"
        )
    return match.group(1), int(match.group(2)), int(match.group(3))


def _low(digits: int) -> int:
    return 2 if digits == 1 else 10 ** (digits - 1)


def _operand(rng: random.Random, digits: int) -> int:
    return rng.randint(_low(digits), 10**digits - 1)


def capacity(operation: str) -> int:
    """How many distinct problems ``operation`` has."""
    _, digits_a, digits_b = _parse(operation)
    return (10**digits_a - _low(digits_a)) * (10**digits_b - _low(digits_b))


def worked_examples(operation: str, count: int, seed: int) -> tuple[Problem, ...]:
    """The ``count`` fixed worked examples shown before every question (drawn apart from every set)."""
    return tuple(problems(operation, count, seed=f"shots:{seed}"))


def problems(
    operation: str,
    count: int,
    seed: int | str,
    exclude: set[str] | frozenset[str] = frozenset(),
    shots: tuple[Problem, ...] = (),
) -> list[Problem]:
    """``count`` distinct problems drawn with ``seed``, none of whose keys is in ``exclude`` nor a shot's."""
    _, digits_a, digits_b = _parse(operation)
    rng = random.Random(f"{operation}:{seed}")
    span = capacity(operation)
    exclude = frozenset(exclude) | {shot.key for shot in shots}
    if count > span - len(exclude):
        raise ValueError(
            f"{operation} has at most {span - len(exclude)} distinct unused problems, asked {count}"
        )
    chosen: dict[str, Problem] = {}
    while len(chosen) < count:
        problem = Problem(operation, _operand(rng, digits_a), _operand(rng, digits_b), shots)
        if problem.key not in exclude:
            chosen.setdefault(problem.key, problem)
    return list(chosen.values())


def parse_answer(generated: str) -> int | None:
    """The integer at the start of the generated continuation (after the prefill), or None.

    ``"85"``, ``" 85."`` and ``"85\\nSo"`` read 85; ``"85.5"`` and ``"1,085"`` are not integers: None.
    """
    match = _LEADING_NUMBER.match(generated)
    if not match or not match.group(1).lstrip("-").isdigit():
        return None
    return int(match.group(1))


def is_correct(problem: Problem, generated: str) -> bool:
    """Exact match: the continuation starts with the answer, and no further digit follows it."""
    return parse_answer(generated) == problem.answer
