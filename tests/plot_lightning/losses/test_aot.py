"""AOT (paired, TRL's aot): logistic loss on sorted policy margins vs sorted reference margins."""

from __future__ import annotations

import math

import torch

from plot_lightning.losses.aot import AOTLoss
from plot_lightning.losses.dpo import DPOLoss
from plot_lightning.losses.types import PreferenceForward, SequenceSide


def _side(logps: list[float], ref: list[float]) -> SequenceSide:
    logps = torch.tensor(logps)
    mask = torch.ones(logps.shape[0], 2, dtype=torch.bool)
    return SequenceSide(torch.zeros(mask.shape, dtype=torch.long), mask, logps, ref_logps=torch.tensor(ref))


def test_hand_value_sorted_margins():
    """Policy margins pi_w - pi_l = (1, -1), reference margins (0, 2) -> sorted (-1, 1) vs (0, 2):
    gaps (-1, -1), beta = 2: both losses softplus(2) = log(1 + e^2)."""
    batch = PreferenceForward(_side([1.0, -1.0], [0.0, 2.0]), _side([0.0, 0.0], [0.0, 0.0]))
    out = AOTLoss(beta=2.0)(batch)
    torch.testing.assert_close(out.loss, torch.full((2,), math.log1p(math.exp(2.0))))
    assert float(out.metrics["quantile_violations"]) == 1.0


def test_invariant_to_pair_permutation_and_b1_is_dpo():
    """Permuting whole pairs leaves the sorted margins unchanged; with B = 1 it is DPO."""
    gen = torch.Generator().manual_seed(1)
    values = torch.randn(4, 5, generator=gen)
    perm = torch.randperm(5, generator=gen)

    def batch(v: torch.Tensor) -> PreferenceForward:
        return PreferenceForward(_side(v[0].tolist(), v[1].tolist()), _side(v[2].tolist(), v[3].tolist()))

    torch.testing.assert_close(AOTLoss()(batch(values[:, perm])).loss, AOTLoss()(batch(values)).loss)
    single = batch(values[:, :1])
    torch.testing.assert_close(AOTLoss(beta=0.4)(single).loss, DPOLoss(beta=0.4)(single).loss)
