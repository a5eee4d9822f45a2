"""PLOT's cost embedding on models that scale their logits: the unit rows of the lm_head weight do not depend
on where a positive scalar lives (Granite's ``logits / logits_scaling`` against the same scale folded into
the weight give the same cost embedding and the same PLOT dirac costs); a model without an output embedding
is refused naming its class."""

from __future__ import annotations

import pytest
import torch
import transformers as tf

from plot_lightning.forward import align_batch
from plot_lightning.heads.output_embedding import output_embedding_weight
from plot_lightning.heads.preference import policy_preference_forward
from plot_lightning.losses.composite import CompositeLoss
from plot_lightning.losses.plot_cost import normalise_embedding

SMALL = dict(
    vocab_size=64,
    hidden_size=16,
    intermediate_size=32,
    num_hidden_layers=1,
    num_attention_heads=2,
    num_key_value_heads=2,
    tie_word_embeddings=False,
    initializer_range=0.3,
)


def granite(scaling: float, fold: float) -> tf.GraniteForCausalLM:
    """Seeded Granite with ``logits_scaling = scaling`` and its lm_head weight divided by ``fold``."""
    torch.manual_seed(0)
    model = tf.GraniteForCausalLM(tf.GraniteConfig(**SMALL, logits_scaling=scaling)).eval()
    with torch.no_grad():
        model.lm_head.weight.div_(fold)
    return model


def plot_costs(model) -> torch.Tensor:
    gen = torch.Generator().manual_seed(2)
    input_ids = torch.randint(3, 64, (2, 10), generator=gen)
    labels = input_ids.clone()
    labels[:, :3] = -100
    batch = {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids), "labels": labels}
    composite = CompositeLoss(["dpo", "plot"], [1.0, 1.0], {"plot": {"variant": "dirac"}})
    embedding = normalise_embedding(output_embedding_weight(model).detach()).float()
    with torch.no_grad():
        logits = model(input_ids=input_ids).logits
        forward = policy_preference_forward(logits, align_batch(batch), None, composite.needs, embedding)
    return forward.chosen.head.token_costs


def test_a_logit_scale_gives_the_cost_of_the_same_scale_folded_into_the_weight() -> None:
    """z / 8 with W against z with W / 8: the same logits, so the same distribution; the same unit rows,
    so the same cost embedding (to rounding) and the same dirac costs (1e-6)."""
    scaled, folded = granite(8.0, 1.0), granite(1.0, 8.0)
    unit_scaled = normalise_embedding(output_embedding_weight(scaled))
    unit_folded = normalise_embedding(output_embedding_weight(folded))
    torch.testing.assert_close(unit_scaled, unit_folded, atol=1e-6, rtol=0)
    costs = plot_costs(scaled)
    assert float(costs.abs().sum()) > 0
    torch.testing.assert_close(costs, plot_costs(folded), atol=1e-6, rtol=0)


def test_a_model_without_an_output_embedding_is_refused() -> None:
    torch.manual_seed(0)
    base = tf.GraniteModel(tf.GraniteConfig(**SMALL))
    with pytest.raises(ValueError, match="GraniteModel.get_output_embeddings"):
        output_embedding_weight(base)
