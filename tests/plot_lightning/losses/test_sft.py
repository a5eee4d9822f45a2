"""SFT: mean negative log-likelihood of the chosen response tokens, per token over the batch (TRL's) or per
example."""

from __future__ import annotations

import torch

from plot_lightning.losses.sft import SFTLoss
from plot_lightning.losses.term import TokenNeeds
from plot_lightning.losses.types import PreferenceForward, SequenceSide


def _side(logps: list[float], lengths: list[int], length: int = 4) -> SequenceSide:
    mask = torch.arange(length)[None, :] < torch.tensor(lengths)[:, None]
    return SequenceSide(labels=torch.zeros_like(mask, dtype=torch.long), mask=mask, logps=torch.tensor(logps))


def test_token_reduction_is_the_batch_token_mean():
    """Summed log-probs -6 over 3 tokens and -1 over 1 token: 7 nats over 4 tokens, token mean 7/4 (TRL);
    entries B * NLL_i / 4 = (3, 0.5) average to it. The per-example mean would be (2 + 1) / 2 = 1.5."""
    out = SFTLoss()(PreferenceForward(chosen=_side([-6.0, -1.0], [3, 1])))
    torch.testing.assert_close(out.loss, torch.tensor([3.0, 0.5]))
    torch.testing.assert_close(out.loss.mean(), torch.tensor(7 / 4))


def test_example_reduction_and_no_pair_needed():
    """reduction="example": per-token NLL 2 and 1 per example; SFT data suffices."""
    out = SFTLoss(reduction="example")(PreferenceForward(chosen=_side([-6.0, -1.0], [3, 1])))
    torch.testing.assert_close(out.loss, torch.tensor([2.0, 1.0]))


def test_gradients_of_both_reductions():
    """token: d mean / d logps_i = -1/4 for every token's row total; example: -1/(B |y_i|)."""
    for reduction, expected in (("token", [-0.25, -0.25]), ("example", [-1 / 6, -0.5])):
        side = _side([-6.0, -1.0], [3, 1])
        side.logps.requires_grad_(True)
        SFTLoss(reduction=reduction)(PreferenceForward(chosen=side)).loss.mean().backward()
        torch.testing.assert_close(side.logps.grad, torch.tensor(expected))


def test_requirement_flags():
    assert SFTLoss().needs == TokenNeeds()  # the chosen side's log-probs only
