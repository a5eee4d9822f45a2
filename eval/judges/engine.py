"""Verdicts for the runner: builds the judges a suite names (through the registry) and caches every verdict.

The cache key holds the judge's name and identity, the prompt and the response(s), and for outcome verdicts
the item's whole reference: a baseline's verdicts serve every later run against it, and any change to a judge
misses the cache. Non-answers (non_answer.py) are decided before a pairwise judge is asked: a non-answer
loses to an answer and ties with another; it is never a win."""

from __future__ import annotations

from typing import Any

from plot_eval.generation.cache import ResultCache, cache_key
from plot_eval.judges.base import JudgeContext, pairwise_score
from plot_eval.judges.non_answer import NON_ANSWER_RULES, is_non_answer
from plot_eval.registry import JUDGES
from plot_eval.sources.base import PromptItem


def messages_to_text(messages: list[dict] | tuple[dict, ...]) -> str:
    """A chat as plain text for judges and scorers: a single user turn is its content as is."""
    if len(messages) == 1:
        return messages[0]["content"]
    labels = {"user": "User", "assistant": "Assistant", "system": "System"}
    return "\n\n".join(f"{labels.get(m['role'], m['role'])}: {m['content']}" for m in messages)


class VerdictEngine:
    """Computes and caches pairwise and outcome verdicts for the judges of a suite."""

    def __init__(self, settings: dict[str, Any], cache: ResultCache, context: JudgeContext):
        self.settings = settings
        self.cache = cache
        self.context = context
        self._judges: dict[str, Any] = {}
        self._ids: dict[str, Any] = {}

    def judge(self, name: str):
        """The registered judge `name`, built once from the suite's settings (defaults when absent)."""
        if name not in self._judges:
            settings = self.settings.get(name) or JUDGES.settings(name, {}, f"judges.{name}")
            self._judges[name] = JUDGES.get(name).component(settings, self.context)
        return self._judges[name]

    def identity(self, name: str) -> Any:
        if name not in self._ids:
            self._ids[name] = [name, self.judge(name).identity()]
        return self._ids[name]

    def pairwise(
        self, name: str, item: PromptItem, model_response: str, baseline_response: str
    ) -> float | None:
        """Win of the model in {0, 0.5, 1}, or None for an invalid verdict (see plot_eval.judges.base)."""
        model_na, baseline_na = is_non_answer(model_response), is_non_answer(baseline_response)
        if model_na or baseline_na:
            return 0.5 if model_na and baseline_na else 0.0 if model_na else 1.0
        prompt = messages_to_text(item.messages)
        key = cache_key(
            "pairwise", self.identity(name), NON_ANSWER_RULES, prompt, model_response, baseline_response
        )
        judge = self.judge(name)
        verdict = self.cache.get_or_compute(
            key, "verdict", lambda: {"win": pairwise_score(judge, prompt, model_response, baseline_response)}
        )
        return verdict["win"]

    def outcome(self, name: str, item: PromptItem, response: str) -> dict[str, Any]:
        """{"label", "score", ...} of one response (see plot_eval.judges.base.LABELS)."""
        prompt = messages_to_text(item.messages)
        # the whole reference: a judge may read any of its fields, and a field left out of the key would
        # hand a later item the stale verdict of an earlier one
        key = cache_key("outcome", self.identity(name), prompt, response, dict(item.reference))
        judge = self.judge(name)
        return self.cache.get_or_compute(key, "verdict", lambda: judge.outcome(item, prompt, response))
