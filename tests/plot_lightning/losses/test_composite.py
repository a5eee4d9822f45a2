"""CompositeLoss: weighted sum of registry terms, per-term logging, requirement flags, validation."""

from __future__ import annotations

import math

import pytest
import torch

from plot_lightning.losses import registry
from plot_lightning.losses.composite import CompositeLoss
from plot_lightning.losses.dpo import DPOLoss
from plot_lightning.losses.sft import SFTLoss
from plot_lightning.losses.simpo import SimPOLoss
from plot_lightning.losses.term import LossTerm, TokenNeeds
from plot_lightning.losses.types import LossOutput, PreferenceForward, SequenceSide


def _batch(with_rejected: bool = True) -> PreferenceForward:
    mask = torch.tensor([[True, True, False], [True, True, True]])
    labels = torch.zeros(mask.shape, dtype=torch.long)

    def side(logps: list[float], ref: list[float]) -> SequenceSide:
        return SequenceSide(
            labels, mask, torch.tensor(logps, requires_grad=True), ref_logps=torch.tensor(ref)
        )

    chosen = side([-2.0, -4.0], [-2.5, -4.0])
    return PreferenceForward(chosen, side([-3.0, -3.5], [-2.0, -3.0]) if with_rejected else None)


def test_total_is_weighted_sum_of_separate_terms():
    """total = 1.0 * mean DPO(beta 0.2) + 0.5 * mean SFT + 0.25 * mean SimPO; the logged terms are the
    unweighted means, detached; term metrics are namespaced; gradient reaches the log-probs."""
    composite = CompositeLoss(["dpo", "sft", "simpo"], [1.0, 0.5, 0.25], {"dpo": {"beta": 0.2}})
    batch = _batch()
    total, terms = composite(batch)
    dpo, sft, simpo = DPOLoss(beta=0.2)(batch), SFTLoss()(batch), SimPOLoss()(batch)
    expected = dpo.loss.mean() + 0.5 * sft.loss.mean() + 0.25 * simpo.loss.mean()
    torch.testing.assert_close(total, expected)
    torch.testing.assert_close(terms["loss"], expected)
    for name, out in (("dpo", dpo), ("sft", sft), ("simpo", simpo)):
        torch.testing.assert_close(terms[f"loss/{name}"], out.loss.mean())
        assert not terms[f"loss/{name}"].requires_grad
    torch.testing.assert_close(terms["dpo/rewards/chosen"], dpo.metrics["rewards/chosen"])
    total.backward()
    assert batch.chosen.logps.grad is not None


def test_dpo_at_policy_equal_reference_is_ln2():
    batch = _batch()
    batch.chosen.ref_logps = batch.chosen.logps.detach().clone()
    batch.rejected.ref_logps = batch.rejected.logps.detach().clone()
    total, _ = CompositeLoss(["dpo"], [1.0])(batch)
    torch.testing.assert_close(total, torch.tensor(math.log(2.0)))


def test_needs_are_the_union_of_the_terms():
    sft_only = CompositeLoss(["sft"], [1.0])
    assert sft_only.needs == TokenNeeds()
    sft_only(_batch(with_rejected=False))  # SFT data works
    mixed = CompositeLoss(["sft", "simpo", "dpo"], [1.0, 1.0, 1.0])
    assert mixed.needs == TokenNeeds(reference=True, rejected=True)
    assert not CompositeLoss(["simpo"], [1.0]).needs.reference
    plot = CompositeLoss(
        ["plot", "orpo"], [1.0, 1.0], {"plot": {"variant": "sinkhorn", "gamma": 1.0, "top_k": 4}}
    )
    assert plot.needs == TokenNeeds(
        rejected=True, logits=True, reference_topk=4, cost="cosine", cost_sides=("rejected",), support_top_k=4
    )


class _L2CostTerm(LossTerm):
    needs = TokenNeeds(cost="l2", cost_sides=("chosen",))

    def forward(self, batch: PreferenceForward) -> LossOutput:
        return LossOutput(loss=torch.zeros_like(batch.chosen.logps))


def test_terms_needing_different_ground_costs_are_refused_at_build():
    """The heads compute one cost per token: a cosine PLOT beside an L2 term is a configuration error."""
    registry.LOSSES.register("l2_term")(_L2CostTerm)
    try:
        assert CompositeLoss(["dpo", "l2_term"], [1.0, 1.0]).needs.cost == "l2"
        with pytest.raises(ValueError, match="different 'cost': 'cosine' and 'l2'"):
            CompositeLoss(["plot", "l2_term"], [1.0, 1.0])
    finally:
        registry.LOSSES.unregister("l2_term")


@pytest.mark.parametrize(
    ("losses", "weights", "loss_args", "match"),
    [
        (["dpo", "nope"], [1.0, 1.0], None, r"unknown.*'nope'.*known: \[.*'dpo'"),
        (["dpo", "sft"], [1.0], None, "'weights' has 1"),
        (["dpo"], [-0.1], None, "'weights'"),
        (["dpo"], [float("nan")], None, "'weights'"),
        (["dpo"], [1.0], {"sft": {"reduction": "example"}}, "'loss_args'.*'sft'"),
        (["dpo"], [1.0], {"dpo": {"epsilom": 0.1}}, r"loss 'dpo' has no option.*epsilom.*beta: float = 0.1"),
        (["dpo", "dpo"], [1.0, 1.0], None, "more than once"),
        ([], [], None, "at least one"),
    ],
)
def test_bad_configuration_raises(losses, weights, loss_args, match):
    with pytest.raises(ValueError, match=match):
        CompositeLoss(losses, weights, loss_args)


def test_bad_hyperparameter_reaches_the_term():
    with pytest.raises(ValueError, match="'beta'"):
        CompositeLoss(["dpo"], [1.0], {"dpo": {"beta": -1.0}})


def test_non_finite_term_raises_naming_it():
    batch = _batch()
    batch.chosen.ref_logps = torch.tensor([float("nan"), 0.0])
    with pytest.raises(ValueError, match=r"non-finite.*'loss/dpo'"):
        CompositeLoss(["sft", "dpo"], [1.0, 1.0])(batch)


@pytest.mark.parametrize("alpha", [-0.1, float("nan"), float("inf"), float("-inf"), True])
def test_a_bad_weight_is_refused_naming_its_loss_and_position(alpha) -> None:
    """alpha (the PLOT weight) must be a finite number >= 0; the error names the loss and its index."""
    with pytest.raises(
        ValueError,
        match=rf"the weight of loss 'plot' \('weights'\[1\]\) must be a finite number >= 0, got {alpha!r}",
    ):
        CompositeLoss(["dpo", "plot"], [1.0, alpha])


class _TopKTerm(LossTerm):
    needs = TokenNeeds(reference_topk=7)

    def forward(self, batch: PreferenceForward) -> LossOutput:
        return LossOutput(loss=torch.zeros_like(batch.chosen.logps))


def test_the_reference_top_k_is_the_largest_any_term_needs():
    """A sinkhorn PLOT with K = 4 beside a term reading K = 7: the reference's top-K is the largest, 7, in
    either order (as before the declared needs), and the policy support keeps PLOT's 4."""
    args = {"plot": {"variant": "sinkhorn", "top_k": 4}}
    registry.LOSSES.register("topk_term")(_TopKTerm)
    try:
        needs = [
            CompositeLoss(names, [1.0, 1.0], args).needs
            for names in (["plot", "topk_term"], ["topk_term", "plot"])
        ]
    finally:
        registry.LOSSES.unregister("topk_term")
    assert [(n.reference_topk, n.support_top_k) for n in needs] == [(7, 4), (7, 4)]
