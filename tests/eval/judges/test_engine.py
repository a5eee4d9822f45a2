"""Verdict cache keys carry the judge identity; non-answers are decided before any pairwise judge."""

from __future__ import annotations

from dataclasses import dataclass

from plot_eval.generation.cache import ResultCache
from plot_eval.judges.base import Judge, JudgeContext
from plot_eval.judges.engine import VerdictEngine
from plot_eval.registry import JUDGES
from plot_eval.sources.base import user_prompt


@dataclass
class ConstantSettings:
    verdict: float = 1.0


@JUDGES.register("test_constant", settings=ConstantSettings, metrics=("winrate",))
class ConstantJudge(Judge):
    calls = 0

    def identity(self):
        return {"verdict": self.settings.verdict}

    def compare(self, prompt, response_a, response_b):
        ConstantJudge.calls += 1
        return self.settings.verdict


def _engine(cache, verdict):
    return VerdictEngine({"test_constant": ConstantSettings(verdict)}, cache, JudgeContext(pool=None))


def test_a_changed_judge_identity_misses_the_cache(tmp_path):
    item = user_prompt("1", "Which is better?")
    with ResultCache(tmp_path / "cache.jsonl") as cache:
        ConstantJudge.calls = 0
        assert _engine(cache, 0.5).pairwise("test_constant", item, "an answer", "another answer") == 0.5
        assert _engine(cache, 0.5).pairwise("test_constant", item, "an answer", "another answer") == 0.5
        assert ConstantJudge.calls == 2  # both orders once; the second engine hit the cache
        assert _engine(cache, None).pairwise("test_constant", item, "an answer", "another answer") is None
        assert ConstantJudge.calls == 4  # new identity: judged again, and the invalid verdict is cached
        assert _engine(cache, None).pairwise("test_constant", item, "an answer", "another answer") is None
        assert ConstantJudge.calls == 4


def test_non_answers_lose_and_tie_without_asking_the_judge(tmp_path):
    item = user_prompt("1", "Which is better?")
    with ResultCache(tmp_path / "cache.jsonl") as cache:
        engine = _engine(cache, 1.0)
        ConstantJudge.calls = 0
        assert engine.pairwise("test_constant", item, "", "a real answer") == 0.0
        assert engine.pairwise("test_constant", item, "a real answer", "ok ok ok ok ok ok ok ok ok") == 1.0
        assert engine.pairwise("test_constant", item, "  ", "") == 0.5
        assert ConstantJudge.calls == 0


@dataclass
class KeyedSettings:
    pass


@JUDGES.register("test_answer_key", settings=KeyedSettings, metrics=("accuracy",))
class AnswerKeyJudge(Judge):
    """An outcome judge that reads a reference field of its own (not gold / tests / entry_point)."""

    def identity(self):
        return {"rules": "answer-key-v1"}

    def outcome(self, item, prompt, response):
        correct = response.strip() == item.reference["answer_key"]
        return {"label": "correct" if correct else "incorrect", "score": None}


def test_outcome_cache_key_covers_every_reference_field(tmp_path):
    """Issue 22: the key held four named reference fields only, so a second item with the same prompt and
    response but answer_key "no" got the cached verdict of answer_key "yes" (correct)."""
    with ResultCache(tmp_path / "cache.jsonl") as cache:
        engine = VerdictEngine({}, cache, JudgeContext(pool=None))
        yes = user_prompt("1", "Is water wet?", answer_key="yes")
        no = user_prompt("1", "Is water wet?", answer_key="no")
        assert engine.outcome("test_answer_key", yes, "yes")["label"] == "correct"
        assert engine.outcome("test_answer_key", no, "yes")["label"] == "incorrect"
        assert (
            engine.outcome("test_answer_key", yes, "yes")["label"] == "correct"
        )  # still a hit for the first
