"""Per-token KL, entropy, NLL and the cosine cost against hand-derived values and torch.distributions."""

from __future__ import annotations

import math

import pytest
import torch

from experiments.distribution_math import (
    cosine_cost_to,
    masked_count,
    target_nll_sum,
    token_entropy_sum,
    token_kl_sum,
)


def test_kl_of_a_hand_example_and_masking():
    """p = softmax(ln 3, 0) = (0.75, 0.25), q uniform: KL = 0.75 ln 1.5 + 0.25 ln 0.5 = 0.130812.
    Position 1 is masked out, so only position 0 counts."""
    policy = torch.tensor([[[math.log(3.0), 0.0], [5.0, -5.0]]])
    reference = torch.zeros(1, 2, 2)
    mask = torch.tensor([[True, False]])
    assert float(token_kl_sum(policy, reference, mask)[0]) == pytest.approx(
        0.75 * math.log(1.5) + 0.25 * math.log(0.5)
    )
    assert float(masked_count(mask)[0]) == 1.0


def test_kl_agrees_with_torch_distributions_and_is_zero_for_equal_models():
    torch.manual_seed(0)
    policy, reference = torch.randn(3, 5, 11), torch.randn(3, 5, 11)
    mask = torch.ones(3, 5, dtype=torch.bool)
    oracle = torch.distributions.kl_divergence(
        torch.distributions.Categorical(logits=policy), torch.distributions.Categorical(logits=reference)
    ).sum(-1)
    torch.testing.assert_close(token_kl_sum(policy, reference, mask), oracle)
    torch.testing.assert_close(token_kl_sum(policy, policy, mask), torch.zeros(3), atol=1e-6, rtol=0)


def test_entropy_and_nll():
    """Uniform over 4 tokens: entropy ln 4 and NLL of any target ln 4 per position (2 positions)."""
    logits, mask = torch.zeros(1, 2, 4), torch.ones(1, 2, dtype=torch.bool)
    assert float(token_entropy_sum(logits, mask)[0]) == pytest.approx(2 * math.log(4))
    assert float(target_nll_sum(logits, torch.tensor([[1, 3]]), mask)[0]) == pytest.approx(2 * math.log(4))
    with pytest.raises(ValueError, match="mask"):
        token_entropy_sum(logits, torch.ones(1, 3, dtype=torch.bool))


def test_cosine_cost_to_targets():
    """e0 = (1, 0), e1 = (0, 2), e2 = (-1, 0): cost to e0 is (0, 1, 2); rows are normalised first."""
    embedding = torch.tensor([[1.0, 0.0], [0.0, 2.0], [-1.0, 0.0]])
    torch.testing.assert_close(cosine_cost_to(embedding, torch.tensor([0])), torch.tensor([[0.0, 1.0, 2.0]]))
