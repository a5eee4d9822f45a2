"""Fluency: n-gram statistics by hand, perplexity by hand on the tiny model, and on real text with the real
scorer LM (fluent GSM8K solutions and hh-rlhf replies beat their own word-shuffled versions)."""

from __future__ import annotations

import math
import random

import pytest
import torch

from plot_eval.judges.base import JudgeContext
from plot_eval.judges.non_answer import distinct_n, repetition_rate, words
from plot_eval.models.handle import ModelPool
from plot_eval.scorers.fluency import FluencyScorer, FluencySettings


def test_ngram_statistics_by_hand():
    """'the cat the cat the cat' -> 6 words. Bigrams: (the,cat)x3, (cat,the)x2 -> distinct-2 = 2/5.
    4-grams: (the,cat,the,cat)x2, (cat,the,cat,the)x1 -> 3 total, 2 unique -> repetition 1 - 2/3 = 1/3."""
    text = "The cat the cat the CAT"
    assert words(text) == ["the", "cat"] * 3
    assert distinct_n(text, 2) == pytest.approx(2 / 5)
    assert repetition_rate(text, 4) == pytest.approx(1 / 3)
    assert (
        distinct_n("all different words here", 2) == 1.0
        and repetition_rate("all different words here") == 0.0
    )
    assert distinct_n("one", 2) == 0.0 and repetition_rate("one two") == 0.0


def test_distinct_2_counts_lower_cased_words_and_punctuation():
    """Issue 22: the experiment's own count split on whitespace and read 1.0 here. Tokens: go to the shop ,
    go to it -> 7 bigrams, (go, to) twice -> 6 / 7 (the value tests/experiments reads back)."""
    assert distinct_n("Go to the shop, go to it", 2) == pytest.approx(6 / 7)


@pytest.fixture(scope="module")
def tiny_scorer(tiny_model_dir):
    scorer = FluencyScorer(FluencySettings(model=str(tiny_model_dir)), JudgeContext(ModelPool()))
    scorer.batch_size = 3
    return scorer


def test_perplexity_counts_response_tokens_only(tiny_scorer):
    """exp of the mean NLL of the response tokens, each predicted from everything before it (hand loop)."""
    prompt, response = "How do I bake bread?", "Mix flour, water and salt."
    ids, n_prompt = tiny_scorer._encode(prompt, response)
    with torch.no_grad():
        logits = tiny_scorer.model(input_ids=torch.tensor([ids])).logits[0].double()
    nll = [-torch.log_softmax(logits[t - 1], -1)[ids[t]] for t in range(n_prompt, len(ids))]
    expected = math.exp(float(sum(nll) / len(nll)))
    assert tiny_scorer.perplexity([prompt], [response])[0] == pytest.approx(expected, rel=1e-4)


def test_batched_equals_single_and_empty_response_is_none(tiny_scorer):
    prompts = ["Hi", "How do I bake bread? Please explain in detail.", "Q", "Write a poem."]
    responses = ["Hello there, friend.", "Knead it.", "", "The sea, the sky and the wind."]
    batched = tiny_scorer.score(prompts, responses)
    single = [tiny_scorer.score([p], [r])[0] for p, r in zip(prompts, responses, strict=True)]
    assert batched[2]["perplexity"] is None
    for b, s in zip(batched, single, strict=True):
        assert b.keys() == {"perplexity", "distinct_2", "repetition_rate"}
        assert b["perplexity"] == pytest.approx(s["perplexity"], rel=1e-4) if s["perplexity"] else b == s
    with pytest.raises(ValueError, match="same length"):
        tiny_scorer.score(["a"], [])


def _shuffle_words(text: str, seed: int) -> str:
    tokens = text.split()
    random.Random(seed).shuffle(tokens)
    return " ".join(tokens)


@pytest.mark.slow
def test_real_text_beats_its_shuffle(gsm8k_rows, hh_pairs):
    scorer = FluencyScorer(FluencySettings(), JudgeContext(ModelPool()))  # SmolLM2-135M-Instruct
    pairs = [(r["question"], r["answer"].split("####")[0]) for r in gsm8k_rows[:3]] + hh_pairs[:3]
    pairs = [(" ".join(q.split()[:20]), " ".join(a.split()[:20])) for q, a in pairs]  # short: 135M on 2 cores
    prompts = [p for p, _ in pairs]
    fluent = scorer.perplexity(prompts, [a for _, a in pairs])
    shuffled = scorer.perplexity(prompts, [_shuffle_words(a, i) for i, (_, a) in enumerate(pairs)])
    assert all(f < s for f, s in zip(fluent, shuffled, strict=True)), list(zip(fluent, shuffled, strict=True))
    assert (
        sum(math.log(s / f) for f, s in zip(fluent, shuffled, strict=True)) / len(pairs) > 1.0
    )  # > e-fold on average
