"""Which weight is "the output embedding" behind PLOT's token cost, on any causal LM.

PLOT's ground cost compares tokens by the unit rows ``w_v / ||w_v||`` of the lm_head's weight ``W (V, d)``
(the input embedding for tied models): the geometry in which the model scores its next token. What a model
does around that product leaves it the exact choice:

* a positive scalar anywhere on the logits path (Cohere ``logits * logit_scale``, Granite
  ``logits / logits_scaling``, a multiplier on the final hidden states, Gemma's ``sqrt(d)`` on the *input*
  embeddings) is ``z = (c W) h`` for some ``c > 0``, and ``c w_v / ||c w_v|| = w_v / ||w_v||``: the cost does
  not depend on where the scalar lives;
* soft-capping ``c tanh(z / c)`` acts on each logit, not on the tokens' geometry: the cost's probabilities
  are the model's own (the logits head reads the capped logits) and the geometry is still ``W``'s rows. The
  fused head refuses such models (:mod:`plot_lightning.heads.exactness`).
"""

from __future__ import annotations

from torch import Tensor, nn


def output_embedding_weight(model: nn.Module) -> Tensor:
    """The ``(V, d)`` weight of ``model.get_output_embeddings()`` (as it lives: not detached, not copied);
    ValueError naming the model class when there is none."""
    head = model.get_output_embeddings()
    weight = getattr(head, "weight", None)
    if weight is None or weight.dim() != 2:
        raise ValueError(
            f"PLOT's token cost needs an output embedding (V, d): {type(model).__name__}.get_output_embeddings() "
            f"gave {type(head).__name__}"
        )
    return weight
