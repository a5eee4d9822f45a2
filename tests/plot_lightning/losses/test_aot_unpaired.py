"""AOT unpaired (TRL's aot_unpaired): logistic loss on quantile-matched (sorted) chosen and rejected log-ratios."""

from __future__ import annotations

import math

import torch

from plot_lightning.losses.aot_unpaired import AOTUnpairedLoss
from plot_lightning.losses.dpo import DPOLoss
from plot_lightning.losses.types import PreferenceForward, SequenceSide


def _side(logratios: list[float]) -> SequenceSide:
    ratios = torch.tensor(logratios)
    mask = torch.ones(ratios.shape[0], 2, dtype=torch.bool)
    return SequenceSide(
        torch.zeros(mask.shape, dtype=torch.long), mask, ratios, ref_logps=torch.zeros_like(ratios)
    )


def _softplus(x: float) -> float:
    return math.log1p(math.exp(x))


def test_hand_value_sorted_quantiles():
    """Chosen log-ratios (3, 0), rejected (1, 2). Sorted: (0, 3) vs (1, 2), gaps (-1, 1); beta = 1:
    losses softplus(1), softplus(-1). DPO would pair (3-1, 0-2) = (2, -2) instead."""
    out = AOTUnpairedLoss(beta=1.0)(PreferenceForward(_side([3.0, 0.0]), _side([1.0, 2.0])))
    torch.testing.assert_close(out.loss, torch.tensor([_softplus(1.0), _softplus(-1.0)]))
    assert float(out.metrics["quantile_violations"]) == 0.5


def test_invariant_to_independent_permutations():
    """Unpaired: permuting chosen and rejected independently changes no quantile, so no loss value."""
    gen = torch.Generator().manual_seed(0)
    chosen, rejected = torch.randn(6, generator=gen), torch.randn(6, generator=gen)
    base = AOTUnpairedLoss(beta=0.5)(PreferenceForward(_side(chosen.tolist()), _side(rejected.tolist()))).loss
    shuffled = PreferenceForward(
        _side(chosen[torch.randperm(6, generator=gen)].tolist()),
        _side(rejected[torch.randperm(6, generator=gen)].tolist()),
    )
    torch.testing.assert_close(AOTUnpairedLoss(beta=0.5)(shuffled).loss, base)


def test_batch_of_one_is_dpo_and_gradient_reaches_sorted_entries():
    """B = 1: sorting is the identity, AOT = DPO. For B = 2, the gradient of quantile i lands on the
    example holding that quantile: with chosen (3, 0) only the loss of gap -1 (example 1) is large."""
    one = PreferenceForward(_side([0.7]), _side([-0.2]))
    torch.testing.assert_close(AOTUnpairedLoss(beta=0.3)(one).loss, DPOLoss(beta=0.3)(one).loss)
    chosen = _side([3.0, 0.0])
    chosen.logps.requires_grad_(True)
    AOTUnpairedLoss(beta=1.0)(PreferenceForward(chosen, _side([1.0, 2.0]))).loss.sum().backward()
    sigmoid = 1 / (1 + math.exp(-1.0))
    torch.testing.assert_close(chosen.logps.grad, torch.tensor([-(1 - sigmoid), -sigmoid]))
