"""Verdicts for the runner: builds the judges a suite names (lazily) and caches every verdict.

Pairwise verdicts are keyed by (judge identity, prompt, model response, baseline response); programmatic
verdicts (correct / refused) by (judge identity, response, gold or tests), so a baseline's verdicts are
reused by every later run against it. A judge is only built when a verdict is missing from the cache.
"""

from __future__ import annotations

from typing import Any

from eval.cache import ResultCache, cache_key
from eval.model_handle import ModelPool
from eval.sources.base import PromptItem
from eval.suite import JudgeSettings

PROGRAMMATIC_VERSION = "v1"


def messages_to_text(messages: list[dict] | tuple[dict, ...]) -> str:
    """A chat as plain text for judges and scorers: a single user turn is its content as is."""
    if len(messages) == 1:
        return messages[0]["content"]
    labels = {"user": "User", "assistant": "Assistant", "system": "System"}
    return "\n\n".join(f"{labels.get(m['role'], m['role'])}: {m['content']}" for m in messages)


class VerdictEngine:
    """Computes and caches pairwise and programmatic verdicts for the judges of a suite."""

    def __init__(self, judges: dict[str, JudgeSettings], cache: ResultCache, pool: ModelPool):
        self.settings = judges
        self.cache = cache
        self.pool = pool
        self._judges: dict[str, Any] = {}
        self._ids: dict[str, str] = {}

    def _judge_model_path(self, kind: str):
        from eval.models import default_scorer_model_path

        return self.settings.get(kind, JudgeSettings()).model or default_scorer_model_path()

    def judge_id(self, kind: str) -> str:
        """Identity of a judge for cache keys: its kind plus what determines its verdicts."""
        if kind not in self._ids:
            settings = self.settings.get(kind, JudgeSettings())
            if kind in ("local_lm", "reward_model"):
                ident = self.pool.get(self._judge_model_path(kind)).fingerprint
            elif kind == "openai":
                ident = f"{settings.url}|{settings.model}"
            elif kind == "code_exec":
                from eval.judges.code_exec import RULES_VERSION

                ident = (
                    f"{RULES_VERSION}|{settings.timeout_s}|{settings.memory_mb}|{settings.allow_unsandboxed}"
                )
            else:
                ident = PROGRAMMATIC_VERSION
            self._ids[kind] = f"{kind}:{ident}"
        return self._ids[kind]

    def _pairwise_judge(self, kind: str):
        if kind in self._judges:
            return self._judges[kind]
        settings = self.settings.get(kind, JudgeSettings())
        if kind == "local_lm":
            from eval.judges.local_lm import LocalLMJudge

            judge = LocalLMJudge(*self.pool.get(self._judge_model_path(kind)).pair)
        elif kind == "openai":
            from eval.judges.openai_compat import OpenAIJudge

            if not settings.url or not settings.model:
                raise ValueError("judges.openai: needs 'url' and 'model' (the served model name)")
            judge = OpenAIJudge(
                settings.url,
                settings.model,
                api_key_env=settings.api_key_env,
                timeout=settings.timeout_s,
                retries=settings.retries,
                rate_limit=settings.rate_limit,
            )
        elif kind == "reward_model":
            from eval.judges.reward_model import RewardModelJudge

            if not settings.model:
                raise ValueError("judges.reward_model: needs 'model' (a sequence-classifier folder)")
            judge = RewardModelJudge(settings.model)
        else:
            raise ValueError(f"{kind!r} is not a pairwise judge")
        self._judges[kind] = judge
        return judge

    def pairwise(self, kind: str, item: PromptItem, model_response: str, baseline_response: str) -> float:
        """Win of the model in {0, 0.5, 1} (both orders judged; see eval.judges.base.pairwise_score)."""
        prompt = messages_to_text(item.messages)
        key = cache_key("pairwise", self.judge_id(kind), prompt, model_response, baseline_response)
        cached = self.cache.get(key, "verdict")
        if cached is not None:
            return float(cached)
        from eval.judges.base import pairwise_score

        score = float(pairwise_score(self._pairwise_judge(kind), prompt, model_response, baseline_response))
        self.cache.put(key, "verdict", score)
        return score

    def outcome(self, kind: str, item: PromptItem, response: str) -> bool:
        """Programmatic verdict: correct (gsm8k, code_exec) or refused (refusal)."""
        reference = {k: item.reference.get(k) for k in ("gold", "tests", "entry_point", "code_prefix")}
        key = cache_key("outcome", self.judge_id(kind), response, reference)
        cached = self.cache.get(key, "verdict")
        if cached is not None:
            return bool(cached)
        value = bool(self._compute_outcome(kind, item, response))
        self.cache.put(key, "verdict", value)
        return value

    def _compute_outcome(self, kind: str, item: PromptItem, response: str) -> bool:
        if kind == "gsm8k":
            from eval.judges.gsm8k import gsm8k_correct

            return gsm8k_correct(response, item.reference["gold"])
        if kind == "code_exec":
            from eval.judges.code_exec import code_passes

            settings = self.settings.get(kind, JudgeSettings())
            return code_passes(
                response,
                item.reference["tests"],
                item.reference["entry_point"],
                prompt=item.reference.get("code_prefix", ""),
                timeout_s=settings.timeout_s,
                memory_mb=settings.memory_mb,
                allow_unsandboxed=settings.allow_unsandboxed,
            )
        if kind == "refusal":
            from eval.judges.refusal import is_refusal

            return is_refusal(response)
        raise ValueError(f"{kind!r} is not a programmatic judge")
