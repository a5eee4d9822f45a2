"""Progress of the long stages of a run (generation, judging, scoring, lm-eval): a bar or plain lines.

On a terminal a stage shows a tqdm bar. In a log file or CI it prints a line when it starts, at every tenth
of the way, at least every `every_s` seconds while items finish, and at the end::

    [judge] math/gsm8k 12/40 | 0:00:31 elapsed | ETA 0:01:12

Cached items count as done. `enabled=False` (`--quiet`) prints nothing, and `quiet_libraries` turns off
transformers' own bars for that time."""

from __future__ import annotations

import itertools
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import TextIO, TypeVar

T = TypeVar("T")


def _clock(seconds: float) -> str:
    return str(timedelta(seconds=round(seconds)))


class Progress:
    """Counts the items of one stage (`stage`, e.g. "judge", and a `label`, e.g. the set) out of `total`."""

    def __init__(
        self,
        stage: str,
        total: int,
        label: str = "",
        *,
        enabled: bool = True,
        stream: TextIO | None = None,
        every_s: float = 30.0,
    ) -> None:
        if total < 0:
            raise ValueError(f"total must be >= 0, got {total}")
        self.stage, self.total, self.label, self.every_s = stage, total, label, every_s
        self.done = 0
        self._stream = stream or sys.stderr
        self._enabled = enabled and total > 0
        self._start = self._last_line = time.monotonic()
        self._tenths = 0  # tenths of the total reached so far
        self._bar = None
        if self._enabled and getattr(self._stream, "isatty", lambda: False)():
            from tqdm.auto import tqdm

            desc = f"{stage} {label}".strip()
            self._bar = tqdm(total=total, desc=desc, file=self._stream)
        elif self._enabled:
            self._line()

    def line(self) -> str:
        """`[stage] label done/total | H:MM:SS elapsed | ETA H:MM:SS` (no ETA before the first item)."""
        elapsed = time.monotonic() - self._start
        head = f"[{self.stage}] {self.label} " if self.label else f"[{self.stage}] "
        parts = [f"{head}{self.done}/{self.total}", f"{_clock(elapsed)} elapsed"]
        if self.done:
            parts.append(f"ETA {_clock(elapsed / self.done * (self.total - self.done))}")
        return " | ".join(parts)

    def _line(self) -> None:
        print(self.line(), file=self._stream, flush=True)
        self._last_line = time.monotonic()

    def update(self, n: int = 1) -> None:
        """`n` more items finished."""
        self.done = min(self.done + n, self.total)
        if not self._enabled:
            return
        if self._bar is not None:
            self._bar.update(n)
            return
        tenths, self._tenths = self._tenths, self.done * 10 // self.total
        overdue = time.monotonic() - self._last_line >= self.every_s
        if self._tenths > tenths or overdue or self.done == self.total:
            self._line()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def progress_by_group(
    items: list[T],
    stage: str,
    group_of: Callable[[T], str],
    *,
    enabled: bool = True,
    stream: TextIO | None = None,
) -> Iterator[T]:
    """Yield `items` in order, counting them in one Progress per run of consecutive items of a group
    (e.g. the prompts of one set), so each group reaches its own total."""
    for group, members in itertools.groupby(items, key=group_of):
        members = list(members)
        with Progress(stage, len(members), group, enabled=enabled, stream=stream) as bar:
            for item in members:
                yield item
                bar.update()


@contextmanager
def quiet_libraries(quiet: bool) -> Iterator[None]:
    """While `quiet`, the progress bars of transformers and huggingface_hub are off; restored afterwards."""
    if not quiet:
        yield
        return
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()
