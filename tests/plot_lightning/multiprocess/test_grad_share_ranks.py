"""Under DDP (2 real processes, gloo) every rank calibrates the same weight from the rank-averaged gradient
ratio and logs the same gradient share; and sharded strategies are named as not measurable."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from lightning.pytorch.strategies import (
    DDPStrategy,
    FSDPStrategy,
    ModelParallelStrategy,
    SingleDeviceStrategy,
)

from plot_lightning.grad_share import sharded_reason

SCRIPT = Path(__file__).with_name("grad_share_probe.py")


@pytest.mark.slow
@pytest.mark.multiprocess
def test_ddp_ranks_agree_on_calibrated_weight_and_share(tmp_path: Path) -> None:
    """weight = 0.15 / mean_r(ratio_r), ratio_r = ||g_plot|| / ||g_dpo|| on rank r's own batch (oracle); the
    two ranks' batches differ, so their local ratios differ while what they log is the same."""
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        from test_strategies import clean_env
        from train_strategy import write_pairs
    finally:
        sys.path.remove(str(SCRIPT.parent))
    data = write_pairs(tmp_path / "pairs.jsonl", count=8)
    prefix = tmp_path / "rank"
    command = [sys.executable, str(SCRIPT), "--data", str(data), "--out-prefix", str(prefix)]
    done = subprocess.run(command, env=clean_env(tmp_path), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-6000:]}"
    ranks = [json.loads(Path(f"{prefix}{rank}.json").read_text()) for rank in (0, 1)]
    assert ranks[0]["ratio"] != pytest.approx(ranks[1]["ratio"], rel=1e-6)
    expected = 0.15 / ((ranks[0]["ratio"] + ranks[1]["ratio"]) / 2)
    for rank in ranks:
        assert rank["weight"] == pytest.approx(expected, rel=1e-9)
        assert rank["logged"] == ranks[0]["logged"]
    assert ranks[0]["logged"]["train/calibrated_weight/plot"] == pytest.approx(expected, rel=1e-6)
    assert "train/grad_share/plot" in ranks[0]["logged"]  # step 1's share, measured after one update


@pytest.mark.parametrize(
    ("strategy", "name"),
    [(FSDPStrategy, "FSDPStrategy"), (lambda: ModelParallelStrategy(1, 1), "ModelParallelStrategy")],
)
def test_sharded_strategies_are_not_measured(strategy, name) -> None:
    reason = sharded_reason(strategy())
    assert reason is not None and reason.startswith(name) and "not measured" in reason


def test_plain_strategies_are_measured() -> None:
    assert sharded_reason(DDPStrategy()) is None
    assert sharded_reason(SingleDeviceStrategy("cpu")) is None


def test_weight_shares_refused_under_a_sharded_strategy() -> None:
    """Calibration needs the measurement, which FSDP2 (ModelParallelStrategy) cannot give: setup refuses."""
    import lightning.pytorch as pl

    from plot_lightning.module import PLOTModule

    trainer = pl.Trainer(accelerator="cpu", devices=1, strategy=ModelParallelStrategy(1, 1), logger=False)
    module = PLOTModule(model="tiny", weight_shares={"plot": 0.15})
    module.trainer = trainer
    with pytest.raises(ValueError, match="'weight_shares' cannot be calibrated here: ModelParallelStrategy"):
        module.setup("fit")


def test_sharded_strategy_skips_the_measurement_with_one_note() -> None:
    """Without weight_shares a sharded run trains on: the shares are not measured, one note says why."""
    import warnings

    import lightning.pytorch as pl
    import torch

    from plot_lightning.module import PLOTModule

    trainer = pl.Trainer(accelerator="cpu", devices=1, strategy=ModelParallelStrategy(1, 1), logger=False)
    module = PLOTModule(model="tiny", grad_share_every=1)
    module.trainer = trainer
    module.setup("fit")
    term = torch.ones((), requires_grad=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):
            module._log_grad_shares({"dpo": term * 2, "plot": term * 3}, {"dpo": 1.0, "plot": 0.1})
    notes = [str(w.message) for w in caught if "not measured" in str(w.message)]
    assert len(notes) == 1 and notes[0].startswith("ModelParallelStrategy")
