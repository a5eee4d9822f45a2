"""SimPO: -log sigmoid(beta * (avg pi_w - avg pi_l) - gamma), reference-free."""

from __future__ import annotations

import math

import torch

from plot_lightning.losses.simpo import SimPOLoss
from plot_lightning.losses.term import TokenNeeds
from plot_lightning.losses.types import PreferenceForward, SequenceSide


def _side(logps: float, length: int) -> SequenceSide:
    mask = torch.zeros(1, 4, dtype=torch.bool)
    mask[:, :length] = True
    return SequenceSide(torch.zeros(mask.shape, dtype=torch.long), mask, torch.tensor([logps]))


def test_hand_value_without_reference():
    """Chosen -2 over 2 tokens (avg -1), rejected -6 over 3 tokens (avg -2); beta = 2, gamma = 1:
    2 * (-1 + 2) - 1 = 1, loss = log(1 + e^-1). Rewards: beta * avg = -2 and -4. No ref_logps needed."""
    out = SimPOLoss(beta=2.0, gamma=1.0)(PreferenceForward(_side(-2.0, 2), _side(-6.0, 3)))
    torch.testing.assert_close(out.loss, torch.tensor([math.log1p(math.exp(-1.0))]))
    torch.testing.assert_close(out.metrics["rewards/chosen"], torch.tensor(-2.0))
    torch.testing.assert_close(out.metrics["rewards/margins"], torch.tensor(2.0))
    assert SimPOLoss.needs == TokenNeeds(rejected=True)


def test_length_normalisation():
    """Doubling a response (same per-token log-prob, twice the length) leaves the loss unchanged."""
    short = SimPOLoss()(PreferenceForward(_side(-2.0, 2), _side(-3.0, 1))).loss
    long = SimPOLoss()(PreferenceForward(_side(-4.0, 4), _side(-6.0, 2))).loss
    torch.testing.assert_close(short, long)
