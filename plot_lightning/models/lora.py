"""LoRA adapters (peft) on a causal LM; with ``reference="lora_disabled"`` the reference is the same model
with its adapters switched off (``PeftModel.disable_adapter()``), so only one set of base weights is held."""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import nn


@dataclass
class LoraSettings:
    """LoRA hyperparameters.

    Attributes:
        r: rank of the low-rank update.
        alpha: scaling numerator; the update is scaled by ``alpha / r``.
        dropout: dropout on the adapter input.
        target_modules: names of the linear layers that get adapters (Llama naming by default).
    """

    r: int = 8
    alpha: float = 16.0
    dropout: float = 0.0
    target_modules: list[str] = field(default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"])

    def __post_init__(self) -> None:
        if self.r < 1:
            raise ValueError(f"LoraSettings.r must be >= 1, got {self.r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"LoraSettings.dropout must be in [0, 1), got {self.dropout}")
        if not self.target_modules:
            raise ValueError("LoraSettings.target_modules must name at least one module")


def apply_lora(model: nn.Module, settings: LoraSettings) -> nn.Module:
    """Wrap ``model`` in a peft ``PeftModel`` with fresh adapters; only adapter weights require grad.

    The adapters start as the identity (peft initialises ``B = 0``), so at step 0 the policy equals its base.
    """
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(
        r=settings.r,
        lora_alpha=settings.alpha,
        lora_dropout=settings.dropout,
        target_modules=list(settings.target_modules),
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, config)
