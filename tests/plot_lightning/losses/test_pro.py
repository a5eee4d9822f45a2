"""PRO, two candidates: softmax cross-entropy on length-normalised scores plus an SFT term."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from plot_lightning.losses.pro import PROLoss
from plot_lightning.losses.types import PreferenceForward, SequenceSide


def _side(logps: list[float], lengths: list[int]) -> SequenceSide:
    mask = torch.arange(4)[None, :] < torch.tensor(lengths)[:, None]
    return SequenceSide(torch.zeros(mask.shape, dtype=torch.long), mask, torch.tensor(logps))


def test_two_candidates_equal_softmax_cross_entropy_plus_sft():
    """Plackett-Luce with n = 2 keeps one factor: -log(e^{s_w} / (e^{s_w} + e^{s_l})) = CE(scores, 0);
    plus sft_weight * mean NLL per chosen token. Scores: avg log-probs (-2/2, -3/3) and (-1/1, -8/4)."""
    chosen, rejected = _side([-2.0, -1.0], [2, 1]), _side([-3.0, -8.0], [3, 4])
    out = PROLoss(sft_weight=0.1)(PreferenceForward(chosen, rejected))
    scores = torch.tensor([[-1.0, -1.0], [-1.0, -2.0]])
    expected = F.cross_entropy(scores, torch.zeros(2, dtype=torch.long), reduction="none") + 0.1 * 1.0
    torch.testing.assert_close(out.loss, expected)
    torch.testing.assert_close(out.loss[1], torch.tensor(math.log1p(math.exp(-1.0)) + 0.1))


def test_temperature_divides_scores():
    """temperature 2: scores halve, so (-1, -2) gives log(1 + e^{-1/2}) with sft_weight 0."""
    out = PROLoss(sft_weight=0.0, temperature=2.0)(PreferenceForward(_side([-1.0], [1]), _side([-2.0], [1])))
    torch.testing.assert_close(out.loss, torch.tensor([math.log1p(math.exp(-0.5))]))
