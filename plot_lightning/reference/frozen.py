"""A frozen copy of the initial policy (``reference="copy"``)."""

from __future__ import annotations

import copy
from typing import Any

from torch import nn

from plot_lightning.forward import ReferenceOutputs
from plot_lightning.reference.mode import REFERENCE_MODES, ReferenceMode, model_reference_outputs


@REFERENCE_MODES.register("copy")
class FrozenCopyReference(ReferenceMode):
    """A frozen copy of the initial policy, taken before LoRA and sharding and held by the module."""

    def setup(self, policy: nn.Module, trainer: Any | None) -> nn.Module:
        return copy.deepcopy(policy).requires_grad_(False).eval()

    def outputs(self, policy, reference, aligned, batch, stage) -> ReferenceOutputs:
        return model_reference_outputs(reference, aligned, self.settings)
