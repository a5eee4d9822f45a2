"""A frozen copy of the initial policy (``reference="copy"``)."""

from __future__ import annotations

import copy
from typing import Any

from torch import nn

from plot_lightning.forward import ReferenceOutputs
from plot_lightning.reference.mode import REFERENCE_MODES, ReferenceMode, model_reference_outputs


def freeze(module: nn.Module) -> nn.Module:
    """Set ``requires_grad=False`` on every parameter and put ``module`` in eval mode (in place)."""
    for parameter in module.parameters():
        parameter.requires_grad_(False)
    return module.eval()


def frozen_copy(policy: nn.Module) -> nn.Module:
    """A deep copy of ``policy`` with no trainable parameters, in eval mode (taken before any sharding)."""
    return freeze(copy.deepcopy(policy))


@REFERENCE_MODES.register("copy")
class FrozenCopyReference(ReferenceMode):
    """A frozen copy of the initial policy, taken before LoRA and sharding and held by the module."""

    def setup(self, policy: nn.Module, trainer: Any | None) -> nn.Module:
        return frozen_copy(policy)

    def outputs(self, policy, reference, aligned, batch, stage) -> ReferenceOutputs:
        return model_reference_outputs(reference, aligned, self.settings)
