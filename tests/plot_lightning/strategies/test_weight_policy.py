"""Where PLOT's cost may read the frozen reference's embedding: only where no strategy shards it and no
precision plugin casts it (real Lightning strategy objects)."""

from __future__ import annotations

import pytest
import torch
from lightning.pytorch.strategies import (
    DDPStrategy,
    DeepSpeedStrategy,
    FSDPStrategy,
    ModelParallelStrategy,
    SingleDeviceStrategy,
)

from plot_lightning.strategies.weight_policy import weights_stay_fp32_and_whole


def _deepspeed() -> DeepSpeedStrategy:
    """A DeepSpeedStrategy without DeepSpeed installed: its constructor needs the package, the check only
    needs the class (a DDPStrategy subclass that shards and casts)."""
    return DeepSpeedStrategy.__new__(DeepSpeedStrategy)


@pytest.mark.parametrize(
    ("strategy", "precision", "expected"),
    [
        (lambda: SingleDeviceStrategy(torch.device("cpu")), "32-true", True),
        (lambda: SingleDeviceStrategy(torch.device("cpu")), "32", True),
        (lambda: SingleDeviceStrategy(torch.device("cpu")), "bf16-mixed", True),
        (lambda: SingleDeviceStrategy(torch.device("cpu")), "16-mixed", True),
        (lambda: SingleDeviceStrategy(torch.device("cpu")), "bf16-true", False),
        (lambda: SingleDeviceStrategy(torch.device("cpu")), "16-true", False),
        (lambda: SingleDeviceStrategy(torch.device("cpu")), "64-true", False),
        (DDPStrategy, "32-true", True),
        (DDPStrategy, "bf16-true", False),
        (_deepspeed, "32-true", False),
        (FSDPStrategy, "32-true", False),
        (ModelParallelStrategy, "32-true", False),
    ],
)
def test_only_unsharded_strategies_with_fp32_weight_precisions_keep_the_embedding(
    strategy, precision, expected
):
    assert weights_stay_fp32_and_whole(strategy(), precision) is expected
