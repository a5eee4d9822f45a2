"""The frozen reference is rebuilt from the model spec on resume instead of being stored in checkpoints.

``reference="copy"`` is a frozen copy of the initial policy, i.e. exactly what ``model`` loads: storing it
would add a second copy of the weights to every checkpoint.
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


def strip_reference(checkpoint: dict, trainer) -> None:
    """Drop the ``reference.*`` weights from a checkpoint being saved (single-file checkpoints only)."""
    if not reference_is_rebuilt(trainer):
        return
    state = checkpoint.get("state_dict") or {}
    for key in [key for key in state if key.startswith(REFERENCE_PREFIX)]:
        del state[key]


def restore_reference(checkpoint: dict, reference) -> None:
    """Put the rebuilt reference's weights into a loaded checkpoint that has none (before it is loaded)."""
    state = checkpoint.get("state_dict")
    if reference is None or state is None or any(key.startswith(REFERENCE_PREFIX) for key in state):
        return
    state.update({REFERENCE_PREFIX + key: value for key, value in reference.state_dict().items()})
