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
    """Default construction; declared needs; forward gives a finite (B,) loss with grad and
    detached scalar metrics."""
    loss = LOSSES[name]()
    assert isinstance(loss, nn.Module)
    assert isinstance(loss, LossTerm) and isinstance(loss.needs, TokenNeeds)
    out = loss(_pair_batch())
    assert isinstance(out, LossOutput)
    assert out.loss.shape == (2,) and out.loss.requires_grad and bool(torch.isfinite(out.loss).all())
    assert all(v.dim() == 0 and not v.requires_grad for v in out.metrics.values())


class _ChosenLengthLoss(LossTerm):
    """A loss defined outside the package: minus the chosen log-prob divided by the response length (the
    default needs: the chosen side's log-probs only)."""

    def forward(self, batch: PreferenceForward) -> LossOutput:
        return LossOutput(-batch.chosen.logps / batch.chosen.mask.sum(-1))


def test_a_loss_registered_outside_the_package_is_built_by_name():
    """Registered like the built-ins, it is composed by configuration: chosen logps (-2, -4) over lengths
    (2, 3) give losses (1, 4/3), batch mean 7/6, weighted 0.5 * 7/6 = 7/12."""
    from plot_lightning.losses.composite import CompositeLoss

    LOSSES.register("chosen_length")(_ChosenLengthLoss)
    try:
        total, terms = CompositeLoss(["chosen_length"], [0.5])(_pair_batch())
        assert float(total) == pytest.approx(7 / 12)
        assert float(terms["loss/chosen_length"]) == pytest.approx(7 / 6)
        with pytest.raises(ValueError, match="'dpo' is already registered by DPOLoss"):
            LOSSES.register("dpo")(_ChosenLengthLoss)
    finally:
        LOSSES.unregister("chosen_length")
    assert "chosen_length" not in LOSSES


class _UndeclaredLoss(nn.Module):
    def forward(self, batch: PreferenceForward) -> LossOutput:
        return LossOutput(-batch.chosen.logps)


def test_a_registered_loss_that_is_not_a_loss_term_is_refused_by_name():
    """The heads read every term's ``needs``: a plain ``nn.Module`` is refused when the loss is built."""
    from plot_lightning.losses.composite import CompositeLoss

    LOSSES.register("undeclared")(_UndeclaredLoss)
    try:
        with pytest.raises(TypeError, match="loss 'undeclared' is a _UndeclaredLoss, not a LossTerm"):
            CompositeLoss(["undeclared"], [1.0])
    finally:
        LOSSES.unregister("undeclared")
