"""Coherence with the real all-MiniLM-L6-v2: on-topic answers are closer to their prompt than answers to
other prompts; a solution's sentences are closer to each other than sentences from different texts."""

from __future__ import annotations

import pytest
import torch

from plot_eval.scorers.coherence import split_sentences


def test_split_sentences():
    assert split_sentences("First one. Second! Third?\nFourth line\n\n  ") == [
        "First one.",
        "Second!",
        "Third?",
        "Fourth line",
    ]
    assert split_sentences("3.5 is a number. Yes.") == ["3.5 is a number.", "Yes."]
    assert split_sentences("") == []


@pytest.mark.slow
def test_embeddings_are_unit_mean_pooled(minilm_scorer):
    vectors = minilm_scorer.embed(["a short sentence", "a somewhat longer sentence with more tokens"])
    assert vectors.shape == (2, 384)
    torch.testing.assert_close(vectors.norm(dim=-1), torch.ones(2))
    single = minilm_scorer.embed(["a short sentence"])  # padding in the batch does not change the result
    torch.testing.assert_close(vectors[:1], single, atol=1e-5, rtol=1e-5)


@pytest.mark.slow
def test_on_topic_answer_closer_to_its_prompt(minilm_scorer, hh_pairs, gsm8k_rows):
    pairs = hh_pairs[:6] + [(r["question"], r["answer"].split("####")[0]) for r in gsm8k_rows[:6]]
    prompts = [q for q, _ in pairs]
    answers = [" ".join(a.split()[:60]) for _, a in pairs]
    other = answers[3:] + answers[:3]  # each prompt paired with the answer to a different prompt
    own = [s["prompt_similarity"] for s in minilm_scorer.score(prompts, answers)]
    wrong = [s["prompt_similarity"] for s in minilm_scorer.score(prompts, other)]
    wins = sum(o > w for o, w in zip(own, wrong, strict=True))
    assert wins >= 0.8 * len(pairs), list(zip(own, wrong, strict=True))
    assert sum(own) / len(own) > sum(wrong) / len(wrong) + 0.15


@pytest.mark.slow
def test_solution_sentences_cohere_more_than_mixed_sentences(minilm_scorer, gsm8k_rows):
    solutions = [r["answer"].split("####")[0] for r in gsm8k_rows[:6]]
    groups = [split_sentences(s) for s in solutions]
    # three sentences, each the first sentence of a different solution
    mixed = ["\n".join(groups[(k + j) % len(groups)][0] for j in range(3)) for k in range(len(groups))]
    scores = minilm_scorer.score(["q"] * len(solutions), solutions)
    mixed_scores = minilm_scorer.score(["q"] * len(mixed), mixed)
    own = [s["sentence_coherence"] for s in scores if s["sentence_coherence"] is not None]
    assert len(own) >= len(solutions) - 1
    assert sum(own) / len(own) > sum(m["sentence_coherence"] for m in mixed_scores) / len(mixed_scores) + 0.1
    assert minilm_scorer.score(["q"], ["Only one sentence here"])[0]["sentence_coherence"] is None
