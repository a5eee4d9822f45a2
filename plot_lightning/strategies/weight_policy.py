"""Whether a Trainer leaves the models' weights as loaded: fp32 and whole on every process.

PLOTModule's ``share_cost_embedding`` lets PLOT's cost read the frozen reference's output embedding instead
of its own fp32 copy; that is safe only where no precision plugin casts the reference after
``configure_model`` and no strategy shards it.
"""

from __future__ import annotations

from lightning.pytorch.strategies import DDPStrategy, DeepSpeedStrategy, SingleDeviceStrategy, Strategy

FP32_WEIGHT_PRECISIONS = ("32-true", "32", "bf16-mixed", "16-mixed")  # mixed precision keeps fp32 weights


def weights_stay_fp32_and_whole(strategy: Strategy, precision: str) -> bool:
    """True for a single device or DDP (DeepSpeed, a DDPStrategy that shards and casts, excluded) with a
    Trainer ``precision`` that keeps fp32 weights."""
    plain = isinstance(strategy, SingleDeviceStrategy | DDPStrategy) and not isinstance(
        strategy, DeepSpeedStrategy
    )
    return plain and str(precision) in FP32_WEIGHT_PRECISIONS
