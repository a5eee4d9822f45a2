"""Lightning's FSDPStrategy (FSDP1) made usable with ``accelerator="cpu"`` and gloo, same code path on CUDA.

Lightning refuses ``strategy="fsdp"`` without a GPU, but accepts a subclass. On CPU, torch FSDP1 needs
``device_id=torch.device("cpu")`` (Lightning passes the device *index*, None on CPU), and the full state dict
checkpoint crashed on CPU, so the default here is ``state_dict_type="sharded"``. Decoder layers are wrapped as
separate FSDP units (classes found from the model), so a frozen reference held next to the policy is sharded
too. Usage::

    Trainer(accelerator="cpu", devices=2, strategy=CPUFSDPStrategy())   # or accelerator="cuda"
"""

from __future__ import annotations

from typing import Any

import torch
from lightning.pytorch.strategies import FSDPStrategy
from torch import nn
from typing_extensions import override

from plot_lightning.strategies.layers import decoder_layer_classes


class CPUFSDPStrategy(FSDPStrategy):
    """FSDP1 on CPU (gloo) or CUDA (nccl); ``auto_wrap_policy`` defaults to the model's decoder-layer classes.

    Args:
        state_dict_type: "sharded" (default; works on CPU) or "full".
        kwargs: everything else :class:`~lightning.pytorch.strategies.FSDPStrategy` takes.
    """

    strategy_name = "cpu_fsdp"

    def __init__(self, state_dict_type: str = "sharded", **kwargs: Any) -> None:
        super().__init__(state_dict_type=state_dict_type, **kwargs)

    @override
    def _setup_model(self, model: nn.Module) -> nn.Module:
        from torch.distributed.fsdp import FullyShardedDataParallel
        from torch.distributed.fsdp.wrap import ModuleWrapPolicy

        already_wrapped = any(isinstance(m, FullyShardedDataParallel) for m in model.modules())
        if self.root_device.type != "cpu" or already_wrapped:
            if "auto_wrap_policy" not in self.kwargs and not already_wrapped:
                self.kwargs["auto_wrap_policy"] = ModuleWrapPolicy(decoder_layer_classes(model))
            return super()._setup_model(model)
        kwargs = dict(self.kwargs)
        kwargs.setdefault("auto_wrap_policy", ModuleWrapPolicy(decoder_layer_classes(model)))
        wrapped = FullyShardedDataParallel(
            module=model,
            cpu_offload=self.cpu_offload,
            mixed_precision=self.mixed_precision_config,
            sharding_strategy=self.sharding_strategy,
            device_id=torch.device("cpu"),
            **kwargs,
        )
        # The parent sees a wrapped model and only does the rest (metrics to device, activation checkpointing);
        # without the policy in kwargs it does not warn that the policy is ignored.
        policy = self.kwargs.pop("auto_wrap_policy", None)
        try:
            return super()._setup_model(wrapped)
        finally:
            if policy is not None:
                self.kwargs["auto_wrap_policy"] = policy
