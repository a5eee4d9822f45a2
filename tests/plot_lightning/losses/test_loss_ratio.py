"""CompositeLoss ``loss_ratio``: EMO's per-step rescaling ``target * (w_0 L_0 / L_k).detach() * L_k``."""

from __future__ import annotations

import pytest
import torch

from plot_lightning.losses.composite import CompositeLoss
from plot_lightning.losses.dpo import DPOLoss
from plot_lightning.losses.sft import SFTLoss
from plot_lightning.losses.types import PreferenceForward, SequenceSide


def _batch() -> PreferenceForward:
    mask = torch.tensor([[True, True, False], [True, True, True]])
    labels = torch.zeros(mask.shape, dtype=torch.long)

    def side(logps: list[float], ref: list[float]) -> SequenceSide:
        return SequenceSide(
            labels,
            mask,
            torch.tensor(logps, dtype=torch.float64, requires_grad=True),
            ref_logps=torch.tensor(ref),
        )

    return PreferenceForward(side([-2.0, -4.0], [-2.5, -4.0]), side([-3.0, -3.5], [-2.0, -3.0]))


def test_loss_ratio_value_and_detached_gradient():
    """total = L_dpo + 0.15 * (L_dpo / L_sft) * L_sft = 1.15 L_dpo in value, while the gradient of the SFT
    part is 0.15 * (L_dpo / L_sft) * dL_sft (the factor is a constant): dtotal = dL_dpo + c dL_sft."""
    composite = CompositeLoss(["dpo", "sft"], [1.0, 0.3], loss_ratio={"sft": 0.15})
    batch = _batch()
    total, terms = composite(batch)
    dpo = DPOLoss()(_batch()).loss.mean()
    sft_batch = _batch()
    sft = SFTLoss()(sft_batch).loss.mean()
    factor = 0.15 * float(dpo) / float(sft)
    torch.testing.assert_close(total, dpo.detach() + factor * sft.detach())
    torch.testing.assert_close(float(terms["weight/sft"]), factor)
    total.backward()
    oracle = _batch()
    (DPOLoss()(oracle).loss.mean() + factor * SFTLoss()(oracle).loss.mean()).backward()
    torch.testing.assert_close(batch.chosen.logps.grad, oracle.chosen.logps.grad)
    torch.testing.assert_close(batch.rejected.logps.grad, oracle.rejected.logps.grad)


def test_fixed_weights_unchanged_without_loss_ratio():
    composite = CompositeLoss(["dpo", "sft"], [1.0, 0.3])
    total, terms = composite(_batch())
    expected = DPOLoss()(_batch()).loss.mean() + 0.3 * SFTLoss()(_batch()).loss.mean()
    torch.testing.assert_close(total, expected)
    assert "weight/sft" not in terms


@pytest.mark.parametrize(
    ("ratio", "message"),
    [
        ({"plot": 0.1}, "'loss_ratio' names 'plot', which is not in 'losses'"),
        ({"dpo": 0.1}, "'loss_ratio' cannot rescale the base term 'dpo'"),
        ({"sft": 0.0}, "'loss_ratio.sft' must be a finite number > 0, got 0.0"),
        ({"sft": float("nan")}, "'loss_ratio.sft' must be a finite number > 0, got nan"),
        ({"sft": "x"}, "'loss_ratio.sft' must be a finite number > 0, got 'x'"),
    ],
)
def test_bad_loss_ratio_is_one_line_error(ratio, message):
    with pytest.raises(ValueError) as caught:
        CompositeLoss(["dpo", "sft"], [1.0, 0.3], loss_ratio=ratio)
    assert message in str(caught.value) and "\n" not in str(caught.value)
