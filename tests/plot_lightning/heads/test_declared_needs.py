"""The heads serve what the loss terms declare, whatever name a term is registered under.

PLOT's own class registered as ``plot_again`` trains through the fused and the unfused head exactly as
``plot`` does (losses, metrics and parameter gradients), and a token-level loss written in this file and
registered under a new name trains through both heads alike: one file plus a registration, no package edit."""

from __future__ import annotations

import pytest
import torch

from plot_lightning.losses.plot import PLOTLoss
from plot_lightning.losses.plot_cost import CostEmbedding
from plot_lightning.losses.registry import LOSSES
from plot_lightning.losses.term import LossTerm, TokenNeeds
from plot_lightning.losses.types import LossOutput, PreferenceForward
from plot_lightning.module import PLOTModule


@pytest.fixture
def register():
    """``register(name, cls)``: ``@LOSSES.register(name)`` on ``cls`` for this test only."""
    names: list[str] = []

    def add(name: str, cls: type) -> None:
        LOSSES.register(name)(cls)
        names.append(name)

    yield add
    for name in names:
        LOSSES.unregister(name)


def assert_same_step(left, right, rename: dict[str, str] | None = None, tol: float = 1e-5) -> None:
    """Equal loss terms and metrics (``rename`` maps the right's term names to the left's) and gradients, of two
    ``module_step`` results."""
    (left_values, left_grads, _), (right_values, right_grads, _) = left, right
    left_values = {key: float(value) for key, value in left_values.items()}
    right_values = {key: float(value) for key, value in right_values.items()}
    for old, new in (rename or {}).items():
        right_values = {key.replace(old, new): value for key, value in right_values.items()}
    assert set(left_values) == set(right_values)
    for key, value in right_values.items():
        assert left_values[key] == pytest.approx(value, rel=tol, abs=tol), key
    assert set(left_grads) == set(right_grads) and right_grads
    for name, grad in right_grads.items():
        scale = float(grad.abs().max()) + 1e-12
        assert float((left_grads[name] - grad).abs().max()) <= 10 * tol * scale, name


def plot_settings(variant: str) -> dict:
    settings = {"variant": variant, "gamma": 1.0, "margin": 1.5}
    if variant == "sinkhorn":
        settings.update(top_k=8, epsilon=0.1, max_iter=300)
    return settings


@pytest.mark.parametrize("variant", ["dirac", "sinkhorn"])
def test_plot_under_another_name_trains_like_plot(module_step, batch, register, variant) -> None:
    """Before: the fused head refused the renamed term ('needs the full (B, T, V) logits'). After: each head
    gives it what it declares, so it equals the term named ``plot`` on both heads, and the heads agree."""
    register("plot_again", PLOTLoss)
    settings = plot_settings(variant)
    for fused in (True, False):
        named = module_step(
            batch, fused, losses=["dpo", "plot"], weights=[1.0, 0.5], loss_args={"plot": settings}
        )
        renamed = module_step(
            batch, fused, losses=["dpo", "plot_again"], weights=[1.0, 0.5], loss_args={"plot_again": settings}
        )
        assert_same_step(renamed, named, rename={"plot": "plot_again"}, tol=1e-6)


class SquaredTokenCost(LossTerm):
    """A token-level loss defined here, not in the package: ``mean_t W_t^2`` on the chosen response minus
    ``0.1 mean_t W_t`` on the rejected one, with ``W_t`` the L2 dirac transport cost the heads compute."""

    needs = TokenNeeds(rejected=True, cost="l2", cost_sides=("chosen", "rejected"))

    def forward(self, batch: PreferenceForward) -> LossOutput:
        def mean_cost(side, power: int) -> torch.Tensor:
            costs = side.head.token_costs.pow(power) * side.mask
            return costs.sum(dim=-1) / side.mask.sum(dim=-1)

        chosen = mean_cost(batch.chosen, 2)
        return LossOutput(chosen - 0.1 * mean_cost(batch.rejected, 1), {"chosen": chosen.detach().mean()})


def test_a_loss_defined_in_a_test_file_trains_through_both_heads_alike(module_step, batch, register) -> None:
    """One class and one registration: both heads compute its L2 costs on both sides (the fused one from the
    hidden states, the unfused one from the logits), with equal losses and parameter gradients."""
    register("squared_cost", SquaredTokenCost)
    settings = {"losses": ["dpo", "squared_cost"], "weights": [1.0, 2.0]}
    fused, unfused = module_step(batch, True, **settings), module_step(batch, False, **settings)
    assert_same_step(fused, unfused)
    assert {"loss/squared_cost", "squared_cost/chosen"} <= set(fused[0])
    assert float(fused[0]["loss/squared_cost"]) > 0


def test_a_renamed_plot_reads_the_shared_reference_embedding(register) -> None:
    """Before: only a term registered as ``plot`` got the reference's frozen lm_head as its cost embedding;
    under another name it kept a V x d copy. The module now shares it for any term that declares a cost."""
    register("plot_again", PLOTLoss)
    module = PLOTModule(losses=["dpo", "plot_again"], weights=[1.0, 0.5])
    module.configure_model()
    assert isinstance(module.cost_embedding, CostEmbedding) and module.cost_embedding.is_shared
    assert module.cost_embedding.weight is module.reference.get_output_embeddings().weight
    plain = PLOTModule(losses=["dpo"], weights=[1.0])
    plain.configure_model()
    assert plain.cost_embedding is None  # no term declares a cost: no embedding is built
