"""Progress of an experiment: cells done / total and an ETA from the durations of the cells finished so far."""

from __future__ import annotations

import time


class Progress:
    """Counts finished cells; the ETA is the mean duration of the cells run in this session x cells left."""

    def __init__(self, total: int, already_done: int) -> None:
        self.total, self.done = total, already_done
        self.durations: list[float] = []
        self._start = time.perf_counter()

    def start_cell(self) -> None:
        self._start = time.perf_counter()

    def finish_cell(self) -> float:
        seconds = time.perf_counter() - self._start
        self.durations.append(seconds)
        self.done += 1
        return seconds

    def line(self, what: str) -> str:
        left = self.total - self.done
        eta = "unknown"
        if self.durations:
            eta = _duration(left * sum(self.durations) / len(self.durations))
        return f"[experiment] {self.done}/{self.total} cells done; {what}; ETA {eta}"


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"
