"""SFT: mean negative log-likelihood per chosen response token."""

from __future__ import annotations

import torch

from plot_lightning.losses.sft import SFTLoss
from plot_lightning.losses.types import PreferenceForward, SequenceSide


def _side(logps: list[float], lengths: list[int], length: int = 4) -> SequenceSide:
    mask = torch.arange(length)[None, :] < torch.tensor(lengths)[:, None]
    return SequenceSide(labels=torch.zeros_like(mask, dtype=torch.long), mask=mask, logps=torch.tensor(logps))


def test_hand_value_and_no_pair_needed():
    """Summed log-probs -6 over 3 tokens and -1 over 1 token: per-token NLL 2 and 1; SFT data suffices."""
    out = SFTLoss()(PreferenceForward(chosen=_side([-6.0, -1.0], [3, 1])))
    torch.testing.assert_close(out.loss, torch.tensor([2.0, 1.0]))


def test_gradient_is_minus_one_over_length():
    """d loss_i / d logps_i = -1/|y_i|: raising the chosen likelihood lowers the loss."""
    side = _side([-6.0, -1.0], [3, 1])
    side.logps.requires_grad_(True)
    SFTLoss()(PreferenceForward(chosen=side)).loss.sum().backward()
    torch.testing.assert_close(side.logps.grad, torch.tensor([-1 / 3, -1.0]))


def test_requirement_flags():
    assert not SFTLoss.requires_reference and not SFTLoss.requires_rejected
    assert not SFTLoss.requires_logits and not SFTLoss.requires_reference_topk
