"""robust (TRL's: Chowdhury et al.'s unbiased robust DPO) and cdpo (label-smoothed, conservative DPO)."""

from __future__ import annotations

import math

import pytest
import torch

from plot_lightning.losses.cdpo import ConservativeDPOLoss
from plot_lightning.losses.dpo import DPOLoss
from plot_lightning.losses.robust import RobustDPOLoss
from plot_lightning.losses.types import PreferenceForward, SequenceSide


def _batch(margins: list[float]) -> PreferenceForward:
    """Chosen log-ratio = margin, rejected log-ratio = 0, so h = margin."""
    h = torch.tensor(margins)
    mask = torch.ones(h.shape[0], 2, dtype=torch.bool)
    labels = torch.zeros(mask.shape, dtype=torch.long)
    zeros = torch.zeros_like(h)
    return PreferenceForward(
        chosen=SequenceSide(labels, mask, h.clone(), ref_logps=zeros.clone()),
        rejected=SequenceSide(labels, mask, zeros.clone(), ref_logps=zeros.clone()),
    )


def test_zero_smoothing_is_dpo():
    batch = _batch([-3.0, 0.0, 2.5])
    for loss_class in (ConservativeDPOLoss, RobustDPOLoss):
        torch.testing.assert_close(
            loss_class(beta=0.3, label_smoothing=0.0)(batch).loss,
            DPOLoss(beta=0.3)(batch).loss,
        )


def test_hand_values_at_beta_h_ln3():
    """beta h = ln 3: sigmoid = 3/4, so -log sigmoid(bh) = ln(4/3), -log sigmoid(-bh) = ln 4. eps = 0.1:
    conservative 0.9 ln(4/3) + 0.1 ln 4; unbiased (0.9 ln(4/3) - 0.1 ln 4) / 0.8. At h = 0 both are ln 2."""
    batch = _batch([math.log(3.0), 0.0])
    conservative = ConservativeDPOLoss(beta=1.0, label_smoothing=0.1)(batch).loss
    unbiased = RobustDPOLoss(beta=1.0, label_smoothing=0.1)(batch).loss
    a, b = math.log(4 / 3), math.log(4.0)
    torch.testing.assert_close(conservative, torch.tensor([0.9 * a + 0.1 * b, math.log(2.0)]))
    torch.testing.assert_close(unbiased, torch.tensor([(0.9 * a - 0.1 * b) / 0.8, math.log(2.0)]))


def test_unbiased_form_averages_to_clean_dpo_under_flips():
    """With labels flipped with probability eps, (1-eps) L(h) + eps L(-h) = -log sigmoid(beta h)
    (Chowdhury et al., Lemma 3.1): the expectation over the noise is the clean DPO loss."""
    margins = [-2.0, 0.5, 4.0]
    loss = RobustDPOLoss(beta=0.7, label_smoothing=0.2)
    expected = loss(_batch(margins)).loss.mul(0.8) + loss(_batch([-m for m in margins])).loss.mul(0.2)
    torch.testing.assert_close(expected, DPOLoss(beta=0.7)(_batch(margins)).loss)


def test_bad_smoothing():
    with pytest.raises(ValueError, match="'label_smoothing'"):
        RobustDPOLoss(label_smoothing=0.5)
    with pytest.raises(ValueError, match="'label_smoothing'"):
        ConservativeDPOLoss(label_smoothing=-0.1)
