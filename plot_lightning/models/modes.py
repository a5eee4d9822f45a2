"""Dropout and train/eval modes of a causal LM: dropout off in training (TRL's ``disable_dropout``) and a
temporary eval mode for a reference pass through the policy itself (``reference="lora_disabled"``)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from torch import nn


def disable_dropout(model: nn.Module) -> nn.Module:
    """Set every dropout probability of ``model`` to 0, in place; returns ``model``.

    Covers ``nn.Dropout`` modules (e.g. LoRA's ``lora_dropout``) and float probabilities kept as module
    attributes whose name ends in ``dropout`` (Hugging Face attention passes ``self.attention_dropout``
    to the attention kernel in train mode). The model's config is left as it is (exports keep it).
    """
    for module in model.modules():
        if isinstance(module, nn.modules.dropout._DropoutNd):
            module.p = 0.0
        for name, value in list(vars(module).items()):
            if name.endswith("dropout") and isinstance(value, float):
                setattr(module, name, 0.0)
    return model


@contextlib.contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Put ``model`` in eval mode for the block, then restore each submodule's own mode."""
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for module, training in modes:
            module.training = training
