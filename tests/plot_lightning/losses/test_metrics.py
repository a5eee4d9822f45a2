"""TRL-named preference metrics against hand values."""

from __future__ import annotations

import torch

from plot_lightning.losses.metrics import preference_metrics
from plot_lightning.losses.types import PreferenceForward, SequenceSide


def _side(logps, ref=None, logits=None) -> SequenceSide:
    mask = torch.tensor([[True, True], [True, False]])
    return SequenceSide(
        labels=torch.zeros(mask.shape, dtype=torch.long),
        mask=mask,
        logps=torch.tensor(logps, requires_grad=True),
        logits=logits,
        ref_logps=None if ref is None else torch.tensor(ref),
    )


def test_hand_values():
    """beta = 0.5. Chosen log-ratios (-1+3, -2+2) = (2, 0) -> rewards (1, 0), mean 0.5; rejected
    (-4+3, -1+2) = (-1, 1) -> rewards (-0.5, 0.5), mean 0; accuracy: 1 > -0.5 yes, 0 > 0.5 no -> 0.5;
    margins (1.5, -0.5) -> 0.5. logps means: -1.5, -2.5. Logits: chosen response positions (0,0), (0,1),
    (1,0) with per-position vocab means 1, 2, 3 -> 2 (position (1,1) with mean 100 is masked out)."""
    logits = torch.tensor([[[0.0, 2.0], [1.0, 3.0]], [[2.0, 4.0], [100.0, 100.0]]])
    batch = PreferenceForward(
        chosen=_side([-1.0, -2.0], [-3.0, -2.0], logits=logits.bfloat16()),
        rejected=_side([-4.0, -1.0], [-3.0, -2.0], logits=-logits),
    )
    metrics = preference_metrics(batch, beta=0.5)
    expected = {
        "rewards/chosen": 0.5,
        "rewards/rejected": 0.0,
        "rewards/accuracies": 0.5,
        "rewards/margins": 0.5,
        "logps/chosen": -1.5,
        "logps/rejected": -2.5,
        "logits/chosen": 2.0,
        "logits/rejected": -2.0,
    }
    assert set(metrics) == set(expected)
    for name, value in expected.items():
        assert not metrics[name].requires_grad and metrics[name].dtype == torch.float32
        torch.testing.assert_close(metrics[name], torch.tensor(value), msg=name)


def test_skips_what_is_unavailable():
    """No reference and no logits: only log-prob means; SFT data (no rejected): only logps/chosen."""
    pair = PreferenceForward(chosen=_side([-1.0, -2.0]), rejected=_side([-4.0, -1.0]))
    assert set(preference_metrics(pair, beta=0.1)) == {"logps/chosen", "logps/rejected"}
    assert set(preference_metrics(PreferenceForward(chosen=_side([-1.0, -2.0])), beta=0.1)) == {
        "logps/chosen"
    }
