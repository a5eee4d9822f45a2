"""``ProgressLines``: one plain progress line every N steps when stdout is not a terminal (a log file, CI).

A progress bar written to a file shows nothing until the run ends; these lines are flushed as they come::

    step 40/300 | loss 0.6521 | 1830 tokens/s | elapsed 0:03:10 | ETA 0:20:35
"""

from __future__ import annotations

import sys
import time
from datetime import timedelta
from typing import Any, TextIO

import lightning.pytorch as pl
from typing_extensions import override


def _clock(seconds: float) -> str:
    return str(timedelta(seconds=round(seconds)))


class ProgressLines(pl.Callback):
    """Prints ``step, loss, tokens/s, elapsed, ETA`` every ``every_n_steps`` (rank 0, non-terminal only).

    Args:
        every_n_steps: steps between lines.
        stream: where to write (default ``sys.stdout``); ``force`` writes even to a terminal.
    """

    def __init__(self, every_n_steps: int = 10, stream: TextIO | None = None, force: bool = False) -> None:
        if every_n_steps < 1:
            raise ValueError(f"every_n_steps must be >= 1, got {every_n_steps}")
        self.every_n_steps, self.stream, self.force = every_n_steps, stream, force
        self._start: float | None = None
        self._tokens = 0
        self._first_step = 0

    def _active(self, trainer: pl.Trainer) -> bool:
        stream = self.stream or sys.stdout
        return trainer.is_global_zero and (self.force or not (hasattr(stream, "isatty") and stream.isatty()))

    @override
    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._start, self._tokens, self._first_step = time.monotonic(), 0, trainer.global_step

    @override
    def on_train_batch_end(self, trainer, pl_module, outputs: Any, batch: Any, batch_idx: int) -> None:
        mask = batch.get("attention_mask") if isinstance(batch, dict) else None
        self._tokens += int(mask.sum()) * trainer.world_size if mask is not None else 0
        step = trainer.global_step
        if step % self.every_n_steps or not self._active(trainer) or self._start is None:
            return
        elapsed = time.monotonic() - self._start
        done = max(step - self._first_step, 1)
        total = trainer.max_steps if trainer.max_steps and trainer.max_steps > 0 else None
        if total is None and trainer.num_training_batches not in (None, float("inf")) and trainer.max_epochs:
            total = int(trainer.num_training_batches * trainer.max_epochs)
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        parts = [f"step {step}/{total or '?'}"]
        if loss is not None:
            parts.append(f"loss {float(loss):.4f}")
        parts += [f"{self._tokens / max(elapsed, 1e-9):.0f} tokens/s", f"elapsed {_clock(elapsed)}"]
        if total:
            parts.append(f"ETA {_clock(elapsed / done * max(total - step, 0))}")
        print(" | ".join(parts), file=self.stream or sys.stdout, flush=True)
