"""What a judge is, and how its verdicts become per-sample wins.

A registered judge (eval/registry.py `JUDGES`) is built cheaply from its settings and a `JudgeContext`:
models load on the first verdict that is not cached. Its `identity()` (model fingerprint or endpoint, prompt,
decoding, rules version) is part of every verdict's cache key; `check(item)` rejects an unusable reference
before any generation. The kind of the metric a set feeds decides how the judge is asked:
- pairwise: `compare(prompt, a, b)` -> P(A better) in [0, 1], or None for no valid verdict (`pairwise_score`);
- outcome: `outcome(item, prompt, response)` -> {"label", "score": float | None}; the metric's `good_label`
  is the good outcome. A judge whose accuracy was measured returns it from `validation()`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

LABELS = ("correct", "incorrect", "refusal", "compliance", "non_answer", "unjudged")
UNJUDGED = "unjudged"
"""The label of a response the judge cannot tell: counted and reported, never good or bad (the sample's win
is invalid, and rates are computed over the judged responses)."""


@runtime_checkable
class Comparator(Protocol):
    def compare(self, prompt: str, response_a: str, response_b: str) -> float | None:
        """P(``response_a`` is better than ``response_b`` for ``prompt``), in [0, 1]; None = no verdict."""
        ...


@dataclass
class JudgeContext:
    """What judges and scorers may use besides their settings: `pool.get(folder)` -> a shared, lazily loaded
    model."""

    pool: Any

    def lm(self, folder: str | None):
        """The pool's handle of LM `folder`; None: the default, offline SmolLM2-135M-Instruct."""
        from plot_eval.models.defaults import default_scorer_model_path

        return self.pool.get(folder or default_scorer_model_path())


@dataclass
class ScorerLMSettings:
    """Base of the settings of a component that reads a causal LM through `JudgeContext.lm`."""

    model: str | None = None
    """HF folder of the LM; None = the offline SmolLM2-135M-Instruct."""


class Judge:
    """Base of registered judges: holds settings and context; subclasses define identity and verdicts."""

    registered_name = "unregistered"

    def __init__(self, settings: Any, context: JudgeContext):
        self.settings = settings
        self.context = context

    def identity(self) -> dict[str, Any]:
        raise NotImplementedError

    def check(self, item) -> None:
        """Raise ValueError when `item` cannot be judged (called for every prompt before generation)."""

    def validation(self) -> dict[str, Any] | None:
        """The judge's measured accuracy (JSON-able), or None when it has not been measured."""
        return None


def verdict(probability_a: float) -> float:
    """Hard verdict from P(A better): 1.0 (A wins) above 0.5, 0.0 below, 0.5 at exactly 0.5."""
    if not 0.0 <= probability_a <= 1.0:
        raise ValueError(f"probability_a: a judge must return a probability in [0, 1], got {probability_a}")
    return 1.0 if probability_a > 0.5 else 0.0 if probability_a < 0.5 else 0.5


def pairwise_score(judge: Comparator, prompt: str, model_resp: str, baseline_resp: str) -> float | None:
    """Win score of ``model_resp`` against ``baseline_resp`` in {0, 0.5, 1}, or None (invalid verdict).

    First order: model in position A, win = verdict(P(A)). Swapped order: model in position B,
    win = 1 - verdict(P(A)). Equal -> that score; different -> 0.5. A judge that always picks position A
    thus scores 1 then 0 -> 0.5, whatever the responses. None from either order -> None.
    """
    first = judge.compare(prompt, model_resp, baseline_resp)
    second = judge.compare(prompt, baseline_resp, model_resp)
    if first is None or second is None:
        return None
    as_first, as_second = verdict(first), 1.0 - verdict(second)
    return as_first if as_first == as_second else 0.5


def programmatic_win(model_good: bool, baseline_good: bool) -> float:
    """Per-sample win against the baseline from a good/bad outcome: 1 if only the model is good,
    0.5 if both or neither are, 0 if only the baseline is."""
    if model_good == baseline_good:
        return 0.5
    return 1.0 if model_good else 0.0
