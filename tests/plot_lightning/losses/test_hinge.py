"""Hinge: relu(1 - beta * h)."""

from __future__ import annotations

import torch

from plot_lightning.losses.hinge import HingeLoss
from plot_lightning.losses.types import PreferenceForward, SequenceSide


def _side(logps, ref) -> SequenceSide:
    logps = torch.tensor(logps, dtype=torch.float32)
    mask = torch.ones(logps.shape[0], 2, dtype=torch.bool)
    return SequenceSide(torch.zeros(mask.shape, dtype=torch.long), mask, logps, ref_logps=torch.tensor(ref))


def test_values_and_zero_when_margin_large():
    """beta = 0.5; h = 0, 1, 2, 10 -> 1 - 0.5 h clipped at 0: 1, 0.5, 0, 0; gradient 0 once beta*h >= 1,
    -beta on the chosen log-prob otherwise."""
    chosen = _side([0.0, 1.0, 2.0, 10.0], [0.0, 0.0, 0.0, 0.0])
    rejected = _side([0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0])
    chosen.logps.requires_grad_(True)
    out = HingeLoss(beta=0.5)(PreferenceForward(chosen, rejected))
    torch.testing.assert_close(out.loss, torch.tensor([1.0, 0.5, 0.0, 0.0]))
    out.loss.sum().backward()
    torch.testing.assert_close(chosen.logps.grad, torch.tensor([-0.5, -0.5, 0.0, 0.0]))
