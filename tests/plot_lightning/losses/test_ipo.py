"""IPO: (h - 1/(2 beta))^2 with beta as the paper's tau; optional length normalisation."""

from __future__ import annotations

import pytest
import torch

from plot_lightning.losses.ipo import IPOLoss
from plot_lightning.losses.types import PreferenceForward, SequenceSide


def _side(logps, ref, length: int) -> SequenceSide:
    logps = torch.tensor(logps, dtype=torch.float32)
    mask = torch.zeros(logps.shape[0], 6, dtype=torch.bool)
    mask[:, :length] = True
    return SequenceSide(
        labels=torch.zeros(mask.shape, dtype=torch.long), mask=mask, logps=logps, ref_logps=torch.tensor(ref)
    )


def test_minimum_at_target_margin_summed():
    """beta = 0.25: target 1/(2 beta) = 2. Summed h = (1 - 0) - (-1 - 0) = 2: loss 0 and gradient 0.
    At h = 0 the loss is 1/(4 beta^2) = 4."""
    loss = IPOLoss(beta=0.25, average=False)
    chosen, rejected = _side([1.0], [0.0], 2), _side([-1.0], [0.0], 3)
    chosen.logps.requires_grad_(True)
    out = loss(PreferenceForward(chosen=chosen, rejected=rejected))
    out.loss.sum().backward()
    torch.testing.assert_close(out.loss, torch.tensor([0.0]))
    torch.testing.assert_close(chosen.logps.grad, torch.tensor([0.0]))
    at_zero = loss(PreferenceForward(chosen=_side([1.0], [1.0], 2), rejected=_side([-1.0], [-1.0], 3)))
    torch.testing.assert_close(at_zero.loss, torch.tensor([4.0]))


def test_average_divides_each_log_ratio_by_its_length():
    """average=True: chosen log-ratio 4 over 2 tokens -> 2, rejected -3 over 3 tokens -> -1, h = 3;
    beta = 0.5 target 1: loss (3 - 1)^2 = 4. Summed it would be (7 - 1)^2 = 36."""
    batch = PreferenceForward(chosen=_side([4.0], [0.0], 2), rejected=_side([-3.0], [0.0], 3))
    torch.testing.assert_close(IPOLoss(beta=0.5)(batch).loss, torch.tensor([4.0]))
    torch.testing.assert_close(IPOLoss(beta=0.5, average=False)(batch).loss, torch.tensor([36.0]))


def test_gradient_pulls_towards_target():
    """d loss/d pi_w = 2 (h - target): negative below the target (raise pi_w), positive above."""
    for chosen_logp, sign in ((0.0, -1.0), (5.0, 1.0)):
        chosen = _side([chosen_logp], [0.0], 1)
        chosen.logps.requires_grad_(True)
        IPOLoss(beta=0.5, average=False)(
            PreferenceForward(chosen, _side([0.0], [0.0], 1))
        ).loss.sum().backward()
        assert float(chosen.logps.grad) * sign > 0


def test_bad_beta():
    with pytest.raises(ValueError, match="'beta'"):
        IPOLoss(beta=-1.0)
