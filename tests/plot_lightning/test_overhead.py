"""OverheadMonitor: per-step perf/* metrics from a real tiny training run (values checked for consistency,
not for speed: step time > 0, tokens/s = non-padding tokens / step time, PLOT share in (0, 1) only with PLOT)."""

from __future__ import annotations

import json

import pytest

from plot_lightning.data.datamodule import PreferenceDataModule
from plot_lightning.module import PLOTModule
from plot_lightning.overhead import OverheadMonitor


class Capture(OverheadMonitor):
    """Records what was logged at each step and the batch's non-padding token count."""

    def __init__(self) -> None:
        super().__init__()
        self.steps: list[dict] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
        logged = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("perf/")}
        self.steps.append({**logged, "tokens": float(batch["attention_mask"].sum())})


PERF = {"perf/step_s", "perf/tokens_per_s", "perf/padding_fraction", "perf/peak_memory_mb"}


@pytest.fixture
def data(tmp_path) -> PreferenceDataModule:
    rows = [{"prompt": f"Q{i}?", "chosen": "Yes, bake it. " * (1 + i), "rejected": "No."} for i in range(4)]
    path = tmp_path / "pairs.jsonl"
    path.write_text("\n".join(json.dumps(row) for row in rows))
    return PreferenceDataModule(str(path), tokenizer="tiny", batch_size=2, shuffle=False)


@pytest.mark.parametrize("losses", [["dpo", "plot"], ["dpo"]])
def test_perf_metrics_every_step(losses, data, quiet_trainer) -> None:
    monitor = Capture()
    module = PLOTModule(losses=losses, weights=[1.0] * len(losses))
    quiet_trainer(max_steps=2, callbacks=[monitor]).fit(module, datamodule=data)
    assert len(monitor.steps) == 2
    for step in monitor.steps:
        assert step["perf/step_s"] > 0 and step["perf/peak_memory_mb"] > 0
        assert step["perf/tokens_per_s"] == pytest.approx(step["tokens"] / step["perf/step_s"], rel=1e-4)
        assert "perf/mfu" not in step  # CPU: no MFU
        assert not any(name.startswith("perf/") and name not in PERF for name in step), step
