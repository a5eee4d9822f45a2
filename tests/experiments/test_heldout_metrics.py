"""Judge-free metrics on the tiny model: invariants for policy == reference, and margins against a direct
per-token computation."""

from __future__ import annotations

import pytest
import torch

from experiments.heldout_metrics import heldout_items, heldout_metrics, summarize
from plot_lightning.data.pair_batches import encode_pairs, load_pair_records
from plot_lightning.models.tiny import tiny_model

SETTINGS = {"beta": 0.1, "batch_size": 2, "max_length": 96, "max_prompt_length": 48}


def _logp(model, encoded) -> float:
    """Sum over response tokens of log p(token | prefix), one position at a time (independent oracle)."""
    ids, labels = encoded["input_ids"], encoded["labels"]
    logits = model(input_ids=torch.tensor([ids])).logits[0].float()
    return sum(
        float(torch.log_softmax(logits[t - 1], -1)[ids[t]]) for t in range(1, len(ids)) if labels[t] != -100
    )


@pytest.fixture(scope="module")
def records():
    return load_pair_records(["sample:demo_val"], 5)


def test_policy_equal_to_reference_moves_nothing(tiny_tokenizer, records):
    model = tiny_model(len(tiny_tokenizer))
    metrics = heldout_metrics(model, model, tiny_tokenizer, records, **SETTINGS)
    assert set(metrics) >= {"all"} and metrics["all"]["n_pairs"] == 5
    for group in metrics.values():
        assert group["kl_per_token"] == pytest.approx(0.0, abs=1e-6)
        assert group["reward_margin"] == 0.0 and group["pref_accuracy"] == 0.0  # margin > 0 is strict
        assert group["chosen_ppl_change"] == 0.0 and group["entropy_change"] == 0.0


@torch.no_grad()
def test_margins_and_accuracy_match_a_direct_computation(tiny_tokenizer, records):
    policy, reference = tiny_model(len(tiny_tokenizer), seed=1), tiny_model(len(tiny_tokenizer), seed=0)
    metrics = heldout_metrics(policy, reference, tiny_tokenizer, records, **SETTINGS)["all"]
    margins = []
    for _, chosen, rejected in encode_pairs(records, tiny_tokenizer, 96, 48):
        reward = [0.1 * (_logp(policy, side) - _logp(reference, side)) for side in (chosen, rejected)]
        margins.append(reward[0] - reward[1])
    assert metrics["reward_margin"] == pytest.approx(sum(margins) / len(margins), rel=1e-4, abs=1e-6)
    assert metrics["pref_accuracy"] == pytest.approx(sum(m > 0 for m in margins) / len(margins))
    assert metrics["kl_per_token"] > 0.0


@torch.no_grad()
def test_items_are_the_metrics_before_pooling(tiny_tokenizer, records):
    """One item per pair that fits, in record order, whose margins are the direct per-pair computation; the
    pooled metrics are exactly their sums (so any interval over items can be recomputed from the items)."""
    policy, reference = tiny_model(len(tiny_tokenizer), seed=1), tiny_model(len(tiny_tokenizer), seed=0)
    items = heldout_items(policy, reference, tiny_tokenizer, records, **SETTINGS)
    encoded = encode_pairs(records, tiny_tokenizer, 96, 48)
    assert [item["item"] for item in items] == list(range(len(encoded)))
    for item, (_, chosen, rejected) in zip(items, encoded, strict=True):
        reward = [0.1 * (_logp(policy, side) - _logp(reference, side)) for side in (chosen, rejected)]
        assert item["margin"] == pytest.approx(reward[0] - reward[1], rel=1e-4, abs=1e-6)
        assert item["correct"] == float(reward[0] > reward[1]) and item["pairs"] == 1.0
    pooled = summarize(items)["all"]
    assert pooled == heldout_metrics(policy, reference, tiny_tokenizer, records, **SETTINGS)["all"]
    assert pooled["kl_per_token"] == pytest.approx(
        sum(i["kl"] for i in items) / sum(i["tokens"] for i in items)
    )
