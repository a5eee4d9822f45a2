"""ORPO: NLL(y_w) - beta * log sigmoid(log odds(y_w) - log odds(y_l)), P = exp(mean token log-prob)."""

from __future__ import annotations

import math

import torch

from plot_lightning.losses.orpo import ORPOLoss, log_odds
from plot_lightning.losses.types import PreferenceForward, SequenceSide


def _side(avg_logp: float, length: int) -> SequenceSide:
    mask = torch.zeros(1, 4, dtype=torch.bool)
    mask[:, :length] = True
    return SequenceSide(torch.zeros(mask.shape, dtype=torch.long), mask, torch.tensor([avg_logp * length]))


def test_hand_value_with_known_probabilities():
    """P_w = 0.5 (odds 1, log-odds 0), P_l = 0.2 (odds 1/4): log odds ratio ln 4, sigmoid(ln 4) = 4/5.
    NLL over the response = -ln 0.5 = ln 2 (nll="response"), so loss = ln 2 + beta * ln(5/4); beta = 0.25."""
    batch = PreferenceForward(_side(math.log(0.5), 2), _side(math.log(0.2), 3))
    out = ORPOLoss(beta=0.25, nll="response")(batch)
    torch.testing.assert_close(out.loss, torch.tensor([math.log(2.0) + 0.25 * math.log(1.25)]))
    torch.testing.assert_close(out.metrics["log_odds_ratio"], torch.tensor(math.log(4.0)))
    assert not ORPOLoss().needs.reference


def test_log_odds_stable_against_fp64():
    """log(P/(1-P)) across P from e^-60 to 1 - 1e-6 agrees with fp64; P = 1 stays finite."""
    avg = torch.tensor([-60.0, -5.0, -0.7, -0.69, -0.1, -1e-3, -1e-6])
    exact = avg.double() - torch.log(-torch.expm1(avg.double()))
    torch.testing.assert_close(log_odds(avg).double(), exact, rtol=1e-4, atol=1e-4)
    assert bool(torch.isfinite(log_odds(torch.tensor([0.0]))).all())


def test_gradient_sign():
    """Raising the chosen likelihood lowers the loss; raising the rejected one raises it."""
    chosen, rejected = _side(-1.0, 2), _side(-1.5, 2)
    chosen.logps.requires_grad_(True)
    rejected.logps.requires_grad_(True)
    ORPOLoss(beta=0.5, nll="response")(PreferenceForward(chosen, rejected)).loss.sum().backward()
    assert float(chosen.logps.grad) < 0 < float(rejected.logps.grad)


def test_prompt_and_response_nll_is_one_token_mean_over_the_batch():
    """Default nll (TRL's): logits uniform over V = 4 on every non-padding position, so each token costs
    ln 4 whatever the label; rows with 3 and 1 sequence tokens: per-example entries B * sum / total
    = 2 * 3 ln4 / 4 and 2 * ln4 / 4, whose mean is ln 4 (the token mean), not the mean of row means."""
    sides = []
    for lengths in ([3, 1], [2, 2]):
        mask = torch.arange(4)[None, :] < torch.tensor(lengths)[:, None]
        side = SequenceSide(torch.zeros(2, 4, dtype=torch.long), mask, torch.tensor([-1.0, -1.0]))
        side.logits = torch.zeros(2, 4, 4)
        side.sequence_labels = torch.tensor([[1, 2, 3, 0], [3, 2, 1, 0]])
        side.sequence_mask = mask.long()
        sides.append(side)
    out = ORPOLoss(beta=0.0)(PreferenceForward(*sides))
    torch.testing.assert_close(out.loss, torch.tensor([1.5, 0.5]) * math.log(4.0))
    assert ORPOLoss().needs.logits and not ORPOLoss(nll="response").needs.logits
