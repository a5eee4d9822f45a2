"""Tests for plot_lightning/losses/plot_cost.py against hand-derived values.

Embedding rows (before normalisation) ``e0 = (3, 4)``, ``e1 = (1, 0)``, ``e2 = (0, 2)``, ``e3 = (-1, 0)``
give unit rows ``ê0 = (0.6, 0.8)``, ``ê1 = (1, 0)``, ``ê2 = (0, 1)``, ``ê3 = (-1, 0)``. Dot products:
``ê0·ê1 = 0.6``, ``ê0·ê2 = 0.8``, ``ê0·ê3 = -0.6``, ``ê1·ê2 = 0``, ``ê1·ê3 = -1``, ``ê2·ê3 = 0``.
Cosine cost ``1 - dot``; L2 ``sqrt(2 - 2 dot)``.
"""

from __future__ import annotations

import math

import pytest
import torch

from plot_lightning.losses.plot_cost import normalise_embedding, pairwise_token_cost

WEIGHT = torch.tensor([[3.0, 4.0], [1.0, 0.0], [0.0, 2.0], [-1.0, 0.0]])
DOT = torch.tensor(
    [
        [1.0, 0.6, 0.8, -0.6],
        [0.6, 1.0, 0.0, -1.0],
        [0.8, 0.0, 1.0, 0.0],
        [-0.6, -1.0, 0.0, 1.0],
    ],
    dtype=torch.float64,
)


def test_normalise_embedding_unit_rows_detached_fp32():
    weight = WEIGHT.clone().requires_grad_(True)
    unit = normalise_embedding(weight)
    assert unit.dtype == torch.float32 and not unit.requires_grad
    expected = torch.tensor([[0.6, 0.8], [1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    torch.testing.assert_close(unit, expected)
    unit[0, 0] = 7.0  # a copy: the source weight is untouched
    assert weight[0, 0].item() == 3.0


def test_normalise_embedding_dtypes_and_zero_row():
    assert normalise_embedding(WEIGHT.double()).dtype == torch.float64
    assert normalise_embedding(WEIGHT.half()).dtype == torch.float32
    unit = normalise_embedding(torch.zeros(2, 3))
    assert torch.equal(unit, torch.zeros(2, 3))


def test_normalise_embedding_rejects_bad_input():
    with pytest.raises(ValueError, match="'weight'"):
        normalise_embedding(torch.ones(3))
    with pytest.raises(ValueError, match="'weight'"):
        normalise_embedding(torch.tensor([[1.0, float("nan")]]))


def test_cosine_cost_hand_values():
    unit = normalise_embedding(WEIGHT.double())
    ids_a = torch.tensor([[0, 1], [3, 3]])  # (2, 2)
    ids_b = torch.tensor([[0, 1, 2, 3], [0, 1, 2, 3]])  # (2, 4)
    cost = pairwise_token_cost(unit, ids_a, ids_b, kind="cosine")
    assert cost.shape == (2, 2, 4) and cost.dtype == torch.float64
    expected = 1.0 - DOT[ids_a.unsqueeze(-1), ids_b.unsqueeze(-2)]
    torch.testing.assert_close(cost, expected)
    assert cost[0, 1, 3].item() == pytest.approx(2.0)  # opposite vectors: the maximum
    assert cost[0, 0, 0].item() == 0.0 and cost[1, 0, 3].item() == 0.0  # same token: exactly 0


def test_l2_cost_hand_values():
    unit = normalise_embedding(WEIGHT)
    ids = torch.tensor([0, 1, 2, 3])
    cost = pairwise_token_cost(unit, ids, ids, kind="l2")
    assert cost.shape == (4, 4) and cost.dtype == torch.float32
    # ||ê0 - ê1|| = ||(-0.4, 0.8)|| = sqrt(0.8); ||ê1 - ê3|| = 2; ||ê1 - ê2|| = sqrt(2).
    assert cost[0, 1].item() == pytest.approx(math.sqrt(0.8), abs=1e-6)
    assert cost[1, 3].item() == pytest.approx(2.0, abs=1e-6)
    assert cost[1, 2].item() == pytest.approx(math.sqrt(2.0), abs=1e-6)
    assert torch.equal(cost.diagonal(), torch.zeros(4))
    direct = torch.cdist(unit[ids].double(), unit[ids].double())
    torch.testing.assert_close(cost.double(), direct, atol=1e-6, rtol=0)


def test_cost_is_symmetric_and_bounded():
    generator = torch.Generator().manual_seed(0)
    unit = normalise_embedding(torch.randn(50, 8, generator=generator))
    ids = torch.randint(0, 50, (3, 7), generator=generator)
    for kind in ("cosine", "l2"):
        cost = pairwise_token_cost(unit, ids, ids, kind=kind)
        torch.testing.assert_close(cost, cost.transpose(-1, -2))
        assert bool((cost >= 0).all()) and bool((cost <= 2).all())


def test_pairwise_cost_rejects_bad_input():
    unit = normalise_embedding(WEIGHT)
    ids = torch.tensor([0, 1])
    with pytest.raises(ValueError, match="'kind'"):
        pairwise_token_cost(unit, ids, ids, kind="manhattan")
    with pytest.raises(ValueError, match="'ids_b'"):
        pairwise_token_cost(unit, ids, torch.tensor([0, 4]))
    with pytest.raises(ValueError, match="'ids_a'"):
        pairwise_token_cost(unit, ids.float(), ids)
    with pytest.raises(ValueError, match="'ids_a'"):
        pairwise_token_cost(unit, ids.view(2, 1), ids.view(1, 2))
    with pytest.raises(ValueError, match="'unit_embedding'"):
        pairwise_token_cost(unit[0], ids, ids)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float64])
def test_normalised_embedding_is_a_new_tensor_never_a_view(dtype) -> None:
    """The module passes the live weight without copying it: the unit rows must not share its storage, so an
    in-place update of the weight (an optimizer step) leaves them as they were."""
    weight = WEIGHT.to(dtype).clone()
    unit = normalise_embedding(weight)
    assert unit.dtype == (torch.float64 if dtype == torch.float64 else torch.float32)
    assert unit.untyped_storage().data_ptr() != weight.untyped_storage().data_ptr()
    before = unit.clone()
    weight.mul_(-3.0).add_(1.0)
    torch.testing.assert_close(unit, before, rtol=0, atol=0)
