"""``ProgressLines``: plain progress lines when stdout is not a terminal (a log file, CI): after the first step
(its time is what the user needs to judge the run), every N steps, after the last step, and at least every 30
seconds (a loaded machine can take minutes for N steps).

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
    """Prints ``step, loss, tokens/s, elapsed, ETA`` after the first and the last step, every ``every_n_steps``
    and at the first step end ``every_seconds`` or more after the previous line (rank 0, non-terminal only).

    Args:
        every_n_steps: steps between lines.
        every_seconds: the longest wait between lines, in seconds (checked at step ends).
        stream: where to write (default ``sys.stdout``); ``force`` writes even to a terminal.
    """

    def __init__(
        self,
        every_n_steps: int = 10,
        stream: TextIO | None = None,
        force: bool = False,
        every_seconds: float = 30.0,
    ) -> None:
        if every_n_steps < 1:
            raise ValueError(f"every_n_steps must be >= 1, got {every_n_steps}")
        if every_seconds < 0:
            raise ValueError(f"every_seconds must be >= 0, got {every_seconds}")
        self.every_n_steps, self.stream, self.force = every_n_steps, stream, force
        self.every_seconds = every_seconds
        self._start: float | None = None
        self._last_line = 0.0
        self._tokens = 0
        self._first_step = 0

    def _active(self, trainer: pl.Trainer) -> bool:
        stream = self.stream or sys.stdout
        return trainer.is_global_zero and (self.force or not (hasattr(stream, "isatty") and stream.isatty()))

    @override
    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._start, self._tokens, self._first_step = time.monotonic(), 0, trainer.global_step
        self._last_line = self._start

    def _due(self, step: int, total: int | None, now: float) -> bool:
        if step in (self._first_step + 1, total) or step % self.every_n_steps == 0:
            return True
        return now - self._last_line >= self.every_seconds

    @staticmethod
    def _total(trainer: pl.Trainer) -> int | None:
        total = trainer.max_steps if trainer.max_steps and trainer.max_steps > 0 else None
        if total is None and trainer.num_training_batches not in (None, float("inf")) and trainer.max_epochs:
            total = int(trainer.num_training_batches * trainer.max_epochs)
        return total

    @override
    def on_train_batch_end(self, trainer, pl_module, outputs: Any, batch: Any, batch_idx: int) -> None:
        mask = batch.get("attention_mask") if isinstance(batch, dict) else None
        self._tokens += int(mask.sum()) * trainer.world_size if mask is not None else 0
        step, total, now = trainer.global_step, self._total(trainer), time.monotonic()
        if self._start is None or not self._active(trainer) or not self._due(step, total, now):
            return
        self._last_line = now
        elapsed = now - self._start
        done = max(step - self._first_step, 1)
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        parts = [f"step {step}/{total or '?'}"]
        if loss is not None:
            parts.append(f"loss {float(loss):.4f}")
        parts += [f"{self._tokens / max(elapsed, 1e-9):.0f} tokens/s", f"elapsed {_clock(elapsed)}"]
        if total:
            parts.append(f"ETA {_clock(elapsed / done * max(total - step, 0))}")
        print(" | ".join(parts), file=self.stream or sys.stdout, flush=True)
