"""Time the parts of a training step that belong to one loss term, wherever they run.

PLOT's work is not all in the PLOT loss term's forward: on the default path the logits head computes the
dirac cost next to the log-probs (``heads/logits_head.py``), the fused head computes it inside the model's
forward, and both heads add its gradient in their backward. Each of those places wraps its PLOT-only work
in :meth:`SectionTimer.section`; ``OverheadMonitor`` turns the timer on for each training step and logs the
total as ``perf/plot_share``.

CPU: ``time.perf_counter`` around each section (CPU kernels run synchronously). CUDA: a pair of timing events
recorded on the current stream around each section and read after the step's final synchronisation, so the
timing never stalls the device. Nested sections count once (the outermost).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import torch


class SectionTimer:
    """Accumulates the time spent in :meth:`section` blocks between :meth:`begin_step` and :meth:`end_step`.

    Off (the default, and outside training steps) a section costs one attribute check.
    """

    def __init__(self) -> None:
        self.enabled = False
        self.sections = 0  # outermost sections entered this step
        self._seconds = 0.0
        self._events: list[tuple[torch.cuda.Event, torch.cuda.Event]] = []
        self._depth = 0

    def begin_step(self) -> None:
        """Start counting (the step's start)."""
        self.enabled, self.sections, self._seconds, self._depth = True, 0, 0.0, 0
        self._events.clear()

    def end_step(self) -> float:
        """Stop counting; the seconds spent in sections this step. On CUDA call it after synchronising."""
        total = self._seconds + sum(start.elapsed_time(end) for start, end in self._events) / 1e3
        self.enabled = False
        self._events.clear()
        return total

    @contextlib.contextmanager
    def section(self, device: torch.device) -> Iterator[None]:
        """Time the block (work on ``device``) when the timer is on and no outer section is open."""
        if not self.enabled or self._depth:
            self._depth += self.enabled
            try:
                yield
            finally:
                self._depth -= self.enabled
            return
        self.sections += 1
        self._depth = 1
        if device.type == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            try:
                yield
            finally:
                end.record()
                self._events.append((start, end))
                self._depth = 0
            return
        begin = time.perf_counter()
        try:
            yield
        finally:
            self._seconds += time.perf_counter() - begin
            self._depth = 0


NO_TIMER = SectionTimer()  # never enabled: the default of the heads' ``timer`` arguments
