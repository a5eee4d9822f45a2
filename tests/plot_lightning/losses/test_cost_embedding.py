"""CostEmbedding: the shared form (a frozen weight plus inverse row norms, no V x d copy) reads the same unit rows
as the normalised copy, by hand on the module's 4-token example and through every PLOT kernel (values and
gradients), and refuses a weight that is no longer fp32 and frozen."""

from __future__ import annotations

import pytest
import torch

from plot_lightning.heads.fused_head import fused_head
from plot_lightning.heads.logits_head import logits_head
from plot_lightning.losses.plot import plot_transport_cost
from plot_lightning.losses.plot_cost import CostEmbedding, normalise_embedding, pairwise_token_cost
from plot_lightning.losses.plot_dirac import dirac_token_costs

# rows (3, 4), (1, 0), (0, 2), (-1, 0) and a zero row: unit rows (0.6, 0.8), (1, 0), (0, 1), (-1, 0), (0, 0)
WEIGHT = torch.tensor([[3.0, 4.0], [1.0, 0.0], [0.0, 2.0], [-1.0, 0.0], [0.0, 0.0]])
UNIT = torch.tensor([[0.6, 0.8], [1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, 0.0]])


def test_shared_rows_are_the_hand_derived_unit_rows_without_a_copy():
    shared = CostEmbedding.shared(WEIGHT)
    assert shared.weight is WEIGHT and shared.norms.shape == (5,)
    torch.testing.assert_close(shared.unit_rows(), UNIT)
    torch.testing.assert_close(shared.rows(torch.tensor([[0, 2]])), UNIT[[0, 2]].unsqueeze(0))
    # -ê_y·ê_v for y = 0 and y = 4 (the zero row: similarity 0 to everything)
    want = -torch.stack([UNIT[0] @ UNIT.T, torch.zeros(5)])
    torch.testing.assert_close(shared.negated_similarity(torch.tensor([0, 4])), want)
    torch.testing.assert_close(
        pairwise_token_cost(shared, torch.tensor([0, 3]), torch.tensor([1, 2])),
        torch.tensor([[0.4, 0.2], [2.0, 1.0]]),
    )


def test_shared_refuses_a_weight_that_is_not_frozen_fp32_and_notices_a_later_cast():
    with pytest.raises(ValueError, match="frozen fp32"):
        CostEmbedding.shared(WEIGHT.bfloat16())
    with pytest.raises(ValueError, match="frozen fp32"):
        CostEmbedding.shared(torch.nn.Parameter(WEIGHT.clone()))
    weight = torch.nn.Parameter(WEIGHT.clone(), requires_grad=False)
    shared = CostEmbedding.shared(weight)
    weight.data = weight.data.bfloat16()  # what module.to(torch.bfloat16) does to a parameter
    with pytest.raises(RuntimeError, match="fp32 and frozen"):
        shared.negated_similarity(torch.tensor([0]))


def _problem(seed=0, rows=4, length=7, vocab=23, dim=6):
    gen = torch.Generator().manual_seed(seed)
    weight = torch.randn(vocab, dim, generator=gen)
    weight[5] = 0.0  # a zero row
    logits = (2.0 * torch.randn(rows, length, vocab, generator=gen)).requires_grad_()
    targets = torch.randint(0, vocab, (rows, length - 1), generator=gen)
    targets[0, 0] = 5
    mask = torch.rand(rows, length - 1, generator=gen) < 0.8
    mask[:, 0] = True
    return weight, logits, targets, mask


def _same(run):
    """``run(embedding)`` returns a scalar loss on the logits; it gives the same value and gradient for the
    normalised copy and for the shared weight."""
    results = []
    for embedding in ("copy", "shared"):
        weight, logits, targets, mask = _problem()
        cost = normalise_embedding(weight) if embedding == "copy" else CostEmbedding.shared(weight)
        value = run(cost, logits, targets, mask)
        (grad,) = torch.autograd.grad(value, logits)
        results.append((value.detach(), grad))
    (value, grad), (want_value, want_grad) = results
    torch.testing.assert_close(value, want_value, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(grad, want_grad, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cost", ["cosine", "l2"])
def test_dirac_kernel(cost):
    def run(embedding, logits, targets, mask):
        costs, _ = dirac_token_costs(logits[:, :-1], targets, mask, embedding, cost=cost)
        return (costs * torch.linspace(0.5, 1.5, costs.shape[0])).sum()

    _same(run)


def test_logits_head():
    def run(embedding, logits, targets, mask):
        logps, costs = logits_head(logits, targets, mask, unit_embedding=embedding, cost_rows=range(2))
        return logps.sum() + 3.0 * costs.sum()

    _same(run)


def test_fused_head():
    def run(embedding, logits, targets, mask):
        hidden = logits[:, :-1, :6]  # (N, T-1, d = 6) differentiable hidden states
        weight = torch.linspace(-1.0, 1.0, 23 * 6).view(23, 6)
        outputs = fused_head(hidden, weight, None, targets, mask, unit_embedding=embedding, cost_rows=2)
        return outputs.logps.sum() + 3.0 * outputs.costs.sum()

    _same(run)


@pytest.mark.parametrize("variant", ["dirac", "sinkhorn"])
def test_plot_transport_cost(variant):
    def run(embedding, logits, targets, mask):
        z = logits[:, :-1]
        ids = z.detach().topk(3, dim=-1).indices.flip(-1)
        ref = {"ref_topk_ids": ids, "ref_topk_logps": torch.full(ids.shape, -1.0)}
        extra = ref if variant == "sinkhorn" else {}
        return plot_transport_cost(z, targets, mask, embedding, variant=variant, top_k=3, **extra).sum()

    _same(run)
