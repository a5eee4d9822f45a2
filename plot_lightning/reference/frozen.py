"""A frozen copy of the initial policy (``reference="copy"``)."""

from __future__ import annotations

import copy

from torch import nn


def freeze(module: nn.Module) -> nn.Module:
    """Set ``requires_grad=False`` on every parameter and put ``module`` in eval mode (in place)."""
    for parameter in module.parameters():
        parameter.requires_grad_(False)
    return module.eval()


def frozen_copy(policy: nn.Module) -> nn.Module:
    """A deep copy of ``policy`` with no trainable parameters, in eval mode (taken before any sharding)."""
    return freeze(copy.deepcopy(policy))
