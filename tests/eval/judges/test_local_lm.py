"""LocalLMJudge on the tiny model: P(A) is the two-way softmax of the verdict-token logits."""

from __future__ import annotations

import math

import pytest

from plot_eval.judges.base import Comparator, JudgeContext, pairwise_score
from plot_eval.judges.local_lm import LocalLMJudge, LocalLMSettings, _single_token_id
from plot_eval.models.handle import ModelPool


@pytest.fixture(scope="module")
def judge(tiny_model_dir):
    settings = LocalLMSettings(model=str(tiny_model_dir), max_response_tokens=64)
    return LocalLMJudge(settings, JudgeContext(ModelPool()))


def test_probability_is_softmax_of_verdict_logits(judge):
    """P(A) = e^{zA} / (e^{zA} + e^{zB}), recomputed by hand from the logits."""
    logits = judge.verdict_logits("How do I bake bread?", "Mix flour and water.", "The quick brown fox.")
    expected = math.exp(logits[0]) / (math.exp(logits[0]) + math.exp(logits[1]))
    p_a = judge.compare("How do I bake bread?", "Mix flour and water.", "The quick brown fox.")
    assert p_a == pytest.approx(expected, rel=1e-6)
    assert 0.0 < p_a < 1.0
    assert isinstance(judge, Comparator)


def test_verdict_read_after_generation_prompt(judge, monkeypatch):
    """The judge scores the token right after '<|im_start|>assistant\\n' of the judging prompt."""
    seen = {}
    original = judge.model.forward

    def spy(*args, **kwargs):
        seen["ids"] = kwargs["input_ids"]
        return original(*args, **kwargs)

    monkeypatch.setattr(judge.model, "forward", spy)
    judge.compare("Q?", "first", "second")
    text = judge.tokenizer.decode(seen["ids"][0])
    assert text.endswith("<|im_start|>assistant\n") and "[Response A]\nfirst" in text


def test_long_responses_are_truncated(judge):
    long = "The quick brown fox jumps over the lazy dog. " * 200
    assert judge._truncate(long).endswith("[...]")
    assert 0.0 <= judge.compare("Q?", long, long) <= 1.0


def test_pairwise_score_with_local_judge_is_a_valid_score(judge):
    assert pairwise_score(judge, "Q?", "Mix flour and water.", "I am sorry.") in (0.0, 0.5, 1.0)


def test_verdict_token_must_be_single():
    class SplitsLetters:
        """A tokenizer stand-in that encodes "A" as two tokens."""

        def __call__(self, text, **kwargs):
            return {"input_ids": [5, 6] if text == "A" else [7]}

    with pytest.raises(ValueError, match="single token"):
        _single_token_id(SplitsLetters(), "A")
