"""DPO (sigmoid): -log sigmoid(beta * ((pi_w - ref_w) - (pi_l - ref_l)))."""

from __future__ import annotations

import math

import pytest
import torch

from plot_lightning.losses.dpo import DPOLoss
from plot_lightning.losses.term import TokenNeeds
from plot_lightning.losses.types import PreferenceForward, SequenceSide


def _side(logps, ref=None) -> SequenceSide:
    logps = torch.tensor(logps, dtype=torch.float32)
    mask = torch.ones(logps.shape[0], 3, dtype=torch.bool)
    ref_logps = None if ref is None else torch.tensor(ref, dtype=torch.float32)
    return SequenceSide(
        labels=torch.zeros(mask.shape, dtype=torch.long), mask=mask, logps=logps, ref_logps=ref_logps
    )


def _batch(chosen, rejected, ref_chosen, ref_rejected) -> PreferenceForward:
    return PreferenceForward(chosen=_side(chosen, ref_chosen), rejected=_side(rejected, ref_rejected))


def test_policy_equal_reference_gives_ln2():
    """pi == ref makes both log-ratios 0, h = 0, loss = -log sigmoid(0) = ln 2 whatever the log-probs."""
    batch = _batch([-3.0, -10.0], [-5.0, -1.0], [-3.0, -10.0], [-5.0, -1.0])
    out = DPOLoss(beta=0.1)(batch)
    torch.testing.assert_close(out.loss, torch.full((2,), math.log(2.0)))
    assert float(out.metrics["rewards/accuracies"]) == 0.0
    assert float(out.metrics["rewards/margins"]) == 0.0


def test_hand_value():
    """beta = 0.5, chosen log-ratio 2 - 0 = 2, rejected -1 - (-1) = 0: h = 2, loss = log(1 + e^-1);
    rewards/chosen = 0.5 * 2 = 1, rewards/rejected = 0."""
    out = DPOLoss(beta=0.5)(_batch([2.0], [-1.0], [0.0], [-1.0]))
    torch.testing.assert_close(out.loss, torch.tensor([math.log1p(math.exp(-1.0))]))
    torch.testing.assert_close(out.metrics["rewards/chosen"], torch.tensor(1.0))
    torch.testing.assert_close(out.metrics["rewards/rejected"], torch.tensor(0.0))
    assert float(out.metrics["rewards/accuracies"]) == 1.0


def test_gradient_sign_and_value():
    """d loss / d pi_w = -beta * sigmoid(-beta h) < 0 and d loss / d pi_l = +beta * sigmoid(-beta h) > 0:
    gradient descent raises the chosen and lowers the rejected likelihood. At h = 0: -/+ beta/2."""
    batch = _batch([-2.0], [-2.0], [-2.0], [-2.0])
    batch.chosen.logps.requires_grad_(True)
    batch.rejected.logps.requires_grad_(True)
    DPOLoss(beta=0.2)(batch).loss.sum().backward()
    torch.testing.assert_close(batch.chosen.logps.grad, torch.tensor([-0.1]))
    torch.testing.assert_close(batch.rejected.logps.grad, torch.tensor([0.1]))
    assert not batch.chosen.ref_logps.requires_grad


def test_missing_reference_or_rejected_raise():
    with pytest.raises(ValueError, match="ref_logps"):
        DPOLoss()(_batch([-1.0], [-2.0], None, None))
    with pytest.raises(ValueError, match="rejected"):
        DPOLoss()(PreferenceForward(chosen=_side([-1.0], [-1.0])))
    with pytest.raises(ValueError, match="'beta'"):
        DPOLoss(beta=0.0)


def test_requirement_flags():
    assert DPOLoss.needs == TokenNeeds(reference=True, rejected=True)
