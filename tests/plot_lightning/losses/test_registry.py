"""The registry holds exactly the contract's loss names, each a well-formed loss module."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from plot_lightning.losses.registry import LOSSES
from plot_lightning.losses.term import LossTerm, TokenNeeds
from plot_lightning.losses.types import LossOutput, PreferenceForward, SequenceSide

CONTRACT_NAMES = {
    "sft",
    "dpo",
    "ipo",
    "robust",
    "cdpo",
    "hinge",
    "simpo",
    "orpo",
    "aot",
    "aot_unpaired",
    "pro",
    "plot",
}


def test_names_match_the_contract():
    assert set(LOSSES) - {"plot"} == CONTRACT_NAMES - {"plot"}


def test_plot_is_registered():
    from plot_lightning.losses.plot import PLOTLoss

    assert LOSSES["plot"] is PLOTLoss


def _pair_batch() -> PreferenceForward:
    mask = torch.tensor([[True, True, False], [True, True, True]])
    labels = torch.zeros(mask.shape, dtype=torch.long)

    def side(logps: list[float], ref: list[float]) -> SequenceSide:
        return SequenceSide(
            labels,
            mask,
            torch.tensor(logps, requires_grad=True),
            logits=torch.zeros(2, 3, 5, requires_grad=True),  # for orpo's prompt-and-response NLL
            ref_logps=torch.tensor(ref),
            sequence_labels=labels,
            sequence_mask=torch.ones_like(mask),
        )

    return PreferenceForward(side([-2.0, -4.0], [-2.5, -4.0]), side([-3.0, -3.5], [-2.0, -3.0]))


@pytest.mark.parametrize("name", sorted(CONTRACT_NAMES - {"plot"}))
def test_default_module_is_well_formed(name):
    """Default construction; boolean requirement flags; forward gives a finite (B,) loss with grad and
    detached scalar metrics."""
    loss = LOSSES[name]()
    assert isinstance(loss, nn.Module)
    assert isinstance(loss, LossTerm) and isinstance(loss.needs, TokenNeeds)
    out = loss(_pair_batch())
    assert isinstance(out, LossOutput)
    assert out.loss.shape == (2,) and out.loss.requires_grad and bool(torch.isfinite(out.loss).all())
    assert all(v.dim() == 0 and not v.requires_grad for v in out.metrics.values())
