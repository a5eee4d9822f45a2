"""The frozen reference is rebuilt from the model spec on resume instead of being stored in checkpoints.

``reference="copy"`` is a frozen copy of the initial policy, i.e. exactly what ``model`` loads: storing it
doubles a checkpoint's weights (about 540 MB of SmolLM2-135M's 2.15 GB with optimizer state) for nothing.
Sharded checkpoints (FSDP1 sharded, FSDP2 DCP folders) keep it: their loaders match the saved keys against
the live module's.
"""

from __future__ import annotations

REFERENCE_PREFIX = "reference."


def reference_is_rebuilt(trainer) -> bool:
    """Whether checkpoints of ``trainer`` leave the reference out (single-file checkpoints: not sharded)."""
    if trainer is None:
        return True
    from lightning.pytorch.strategies import FSDPStrategy, ModelParallelStrategy

    strategy = trainer.strategy
    if isinstance(strategy, ModelParallelStrategy):
        return False
    return not (
        isinstance(strategy, FSDPStrategy) and getattr(strategy, "_state_dict_type", "full") == "sharded"
    )
