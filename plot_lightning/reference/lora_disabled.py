"""``reference="lora_disabled"``: the policy itself with its LoRA adapters switched off (no second model)."""

from __future__ import annotations

from plot_lightning.forward import ReferenceOutputs
from plot_lightning.models.modes import eval_mode
from plot_lightning.reference.mode import (
    REFERENCE_MODES,
    ReferenceMode,
    ReferenceSettings,
    model_reference_outputs,
)


@REFERENCE_MODES.register("lora_disabled")
class LoraDisabledReference(ReferenceMode):
    """The base weights under the adapters, in eval mode: the policy trains with dropout, the reference must
    not be random."""

    def __init__(self, settings: ReferenceSettings) -> None:
        if settings.lora is None:
            raise ValueError("reference='lora_disabled' needs 'lora' settings (the adapters to disable)")
        super().__init__(settings)

    def outputs(self, policy, reference, aligned, batch, stage) -> ReferenceOutputs:
        with policy.disable_adapter(), eval_mode(policy):
            return model_reference_outputs(policy, aligned, self.settings)
