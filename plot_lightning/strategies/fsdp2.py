"""FSDP2 (``fully_shard``) for ``ModelParallelStrategy(data_parallel_size=N, tensor_parallel_size=1)``.

Called from the module's ``configure_model``: each decoder layer becomes its own FSDP2 unit, then each model
(policy, frozen reference) as a whole. Works on CPU with gloo and on CUDA unchanged. Usage::

    Trainer(accelerator="cpu", devices=2,
            strategy=ModelParallelStrategy(data_parallel_size=2, tensor_parallel_size=1))
"""

from __future__ import annotations

from torch import nn

from plot_lightning.strategies.layers import decoder_layers


def fully_shard_model(model: nn.Module, device_mesh, *, reshard_after_forward: bool = True) -> nn.Module:
    """Shard ``model`` in place over ``device_mesh["data_parallel"]``: decoder layers first, then the model.

    Args:
        model: a Hugging Face causal LM (or a peft wrapper of one), not yet sharded.
        device_mesh: the strategy's 2-D mesh (``LightningModule.device_mesh``) or a 1-D data-parallel mesh.
    """
    from torch.distributed.fsdp import fully_shard

    mesh = device_mesh["data_parallel"] if device_mesh.ndim > 1 else device_mesh
    for layer in decoder_layers(model):
        fully_shard(layer, mesh=mesh, reshard_after_forward=reshard_after_forward)
    fully_shard(model, mesh=mesh, reshard_after_forward=reshard_after_forward)
    return model
