"""Run the fused head *inside* the model's own forward, in place of its ``lm_head`` call.

Why inside: under FSDP the output embedding is a shard outside the model's forward. FSDP1 (one root unit
holding embeddings, final norm and lm_head; Lightning runs ``training_step`` inside the root's forward) and
FSDP2 (``fully_shard(model)``: the root's parameters are all-gathered by the model's pre-forward hook) both
hand the lm_head its full, unsharded weight exactly when the model calls it, and register their backward
hooks (re-gather, gradient reduce-scatter) on the model's forward outputs. So the model is called normally
and its ``lm_head`` forward is swapped, for that one call, for a function of the final hidden states; what
that function returns comes out as ``output.logits`` and carries FSDP's hooks like real logits would. Plain
modules, DDP and peft wrappers (adapters on the decoder) see no difference.

Supported heads: a plain ``nn.Linear`` (no adapter on the lm_head). Whether the model returns the lm_head's
output unchanged (no soft-capping, scaling, ...) is asked of the model itself: :mod:`plot_lightning.heads.exactness`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from torch import Tensor, nn

HeadCompute = Callable[[Tensor, nn.Linear], Tensor]


def output_head(model: nn.Module) -> nn.Linear:
    """The model's lm_head as a plain ``nn.Linear``; ValueError when the fused head cannot replace it."""
    head = model.get_output_embeddings()
    if type(head) is not nn.Linear:
        raise ValueError(
            f"fused_head needs the output embedding to be a plain torch.nn.Linear, got {type(head).__name__} "
            "(an adapter or a custom head on lm_head): set fused_head false"
        )
    return head


@contextmanager
def routed_head(model: nn.Module, compute: HeadCompute) -> Iterator[nn.Linear]:
    """While active, ``model.lm_head(hidden (N, T, d))`` returns ``compute(hidden, lm_head)`` instead."""
    head = output_head(model)
    saved = head.__dict__.get("forward")
    head.forward = lambda hidden: compute(hidden, head)
    try:
        yield head
    finally:
        if saved is None:
            del head.forward
        else:
            head.forward = saved
