"""DPO+PLOT training invariants (TRL-style): batch 8 == batch 1 x 8 accumulation steps == batch 4 on 2 DDP
ranks, for the step's loss and the gradient the optimiser uses; validation metrics, overall and per
subpreference, are the same at every batch size and process count.

Tolerances (fp32 on CPU; only summation order differs): loss within 1e-6 absolute, gradient within
1e-6 absolute + 1e-5 relative per element. A wrong reduction (per-batch instead of per-example means, a
missing 1/accumulate scale, sum instead of mean across ranks) is off by O(1) relative.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))
try:
    from test_precision import launch
finally:
    sys.path.remove(str(Path(__file__).parent))

SCRIPT = Path(__file__).with_name("invariance_probe.py")


@pytest.mark.slow
@pytest.mark.multiprocess
def test_batch_accumulation_and_ranks_agree(tmp_path: Path) -> None:
    for folder in ("single", "ddp"):
        (tmp_path / folder).mkdir()
    single = launch("single", tmp_path / "single", script=SCRIPT)
    ddp = launch("ddp", tmp_path / "ddp", script=SCRIPT)
    losses = {**single["train"], **ddp["train"]}
    gradients = {
        name: torch.load(tmp_path / folder / f"{folder}.json.{name}.pt")
        for folder, names in (("single", single["train"]), ("ddp", ddp["train"]))
        for name in names
    }
    print(f"\nlosses {losses}")
    for name in ("batch1x8", "ddp2x4"):
        difference = float((gradients[name] - gradients["batch8"]).abs().max())
        print(
            f"{name}: max |grad - grad(batch8)| = {difference:.3g}, max |grad| {float(gradients['batch8'].abs().max()):.3g}"
        )
        assert losses[name] == pytest.approx(losses["batch8"], abs=1e-6)
        torch.testing.assert_close(gradients[name], gradients["batch8"], atol=1e-6, rtol=1e-5)
    assert float(gradients["batch8"].abs().max()) > 1e-3  # a real gradient, not zeros
    validations = {**single["val"], **ddp["val"]}
    reference = validations["1x4"]
    keys = [key for key in reference if key.startswith("val/") and "/loss" in key]
    assert any(key.startswith(("val/helpfulness/", "val/math/")) for key in keys), keys
    for setting, results in validations.items():
        for key in keys:
            assert results[key] == pytest.approx(reference[key], abs=1e-6), (setting, key)
