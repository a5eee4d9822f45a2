"""Reference modes: how the frozen reference's outputs are produced, one registered strategy each.

The built-ins are ``copy`` (:mod:`.frozen`), ``lora_disabled`` (:mod:`.lora_disabled`) and ``precomputed``
(:mod:`.precomputed`). A new mode subclasses :class:`ReferenceMode` and registers itself::

    @REFERENCE_MODES.register("my_mode")
    class MyReference(ReferenceMode):
        def outputs(self, policy, reference, aligned, batch, stage): ...

``PLOTModule(reference="my_mode")`` then uses it; the module never looks at the mode's name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from plot_lightning.forward import (
    AlignedBatch,
    ReferenceOutputs,
    causal_logits,
    reference_outputs_from_logits,
)
from plot_lightning.heads.exactness import use_fused
from plot_lightning.heads.preference import fused_reference_outputs
from plot_lightning.registry import Registry

REFERENCE_MODES = Registry(
    "reference mode",
    tuple(f"plot_lightning.reference.{name}" for name in ("frozen", "lora_disabled", "precomputed")),
)


@dataclass(frozen=True)
class ReferenceSettings:
    """What a reference mode reads of the module's configuration: the model spec and dtype name, the LoRA
    settings (a dict) and ``reference_cache_dir`` or None, the reference top-K the losses need (0: log-probs
    only), the fused head's chunk (None: the full-logits path) and whether the fused head is required (else
    a model it is not exact for runs the full-logits path, :func:`plot_lightning.heads.exactness.use_fused`)."""

    model: str
    model_dtype: str
    lora: dict | None
    cache_dir: str | None
    top_k: int
    fused_chunk_size: int | None
    fused_required: bool = False


class ReferenceMode:
    """One way to get the reference's :class:`ReferenceOutputs` for a batch.

    The constructor validates the settings (ValueError naming the missing option); :meth:`setup` runs once
    on the loaded policy before LoRA and sharding; :meth:`outputs` runs every step without gradients.
    """

    def __init__(self, settings: ReferenceSettings) -> None:
        self.settings = settings

    def setup(self, policy: nn.Module, trainer: Any | None) -> nn.Module | None:
        """Called with the freshly loaded policy (``trainer`` None outside a Trainer); returns the frozen model
        the LightningModule must hold (so that strategies move, shard and checkpoint it), or None."""
        return None

    def outputs(
        self,
        policy: nn.Module,
        reference: nn.Module | None,
        aligned: AlignedBatch,
        batch: Mapping,
        stage: str,
    ) -> ReferenceOutputs:
        """The reference's outputs for ``aligned`` (``batch`` is the collated batch, ``stage`` "train"/"val";
        ``reference`` is what :meth:`setup` returned)."""
        raise NotImplementedError


def model_reference_outputs(
    model: nn.Module, aligned: AlignedBatch, settings: ReferenceSettings
) -> ReferenceOutputs:
    """``model``'s outputs as the reference, without gradients: through the fused head when configured and
    exact for ``model``."""
    chunk = settings.fused_chunk_size
    ids, attention = aligned.input_ids, aligned.attention_mask
    if chunk is not None and use_fused(model, ids, attention, settings.fused_required):
        return fused_reference_outputs(model, aligned, settings.top_k, chunk)
    with torch.no_grad():
        return reference_outputs_from_logits(causal_logits(model, aligned), aligned, settings.top_k)
