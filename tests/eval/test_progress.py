"""Progress output of the long stages: plain lines when the stream is not a terminal, a tqdm bar when it is,
nothing when disabled; counts always reach the total."""

from __future__ import annotations

import io
import re

from plot_eval.progress import Progress, progress_by_group, quiet_libraries

LINE = re.compile(
    r"^\[(?P<stage>[\w-]+)\] (?P<label>.*?) ?(?P<done>\d+)/(?P<total>\d+) \| \d+:\d\d:\d\d elapsed"
)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _counts(text: str, stage: str, label: str) -> list[tuple[int, int]]:
    found = []
    for line in text.splitlines():
        match = LINE.match(line)
        if match and match["stage"] == stage and match["label"] == label:
            found.append((int(match["done"]), int(match["total"])))
    return found


def test_lines_every_tenth_and_at_the_end_when_not_a_terminal():
    """40 items: a start line (0/40), then one line per 4 items (each tenth): 11 lines, the last 40/40."""
    stream = io.StringIO()
    with Progress("judge", 40, "math/gsm8k", stream=stream) as bar:
        for _ in range(40):
            bar.update()
    counts = _counts(stream.getvalue(), "judge", "math/gsm8k")
    assert counts == [(n, 40) for n in range(0, 41, 4)]
    last = stream.getvalue().splitlines()[-1]
    assert last.startswith("[judge] math/gsm8k 40/40 | ") and last.endswith("ETA 0:00:00")


def test_few_items_get_a_line_each_and_the_eta_only_after_the_first():
    stream = io.StringIO()
    bar = Progress("score", 3, "fluency model", stream=stream)
    for _ in range(3):
        bar.update()
    lines = stream.getvalue().splitlines()
    assert _counts(stream.getvalue(), "score", "fluency model") == [(0, 3), (1, 3), (2, 3), (3, 3)]
    assert "ETA" not in lines[0] and all("ETA" in line for line in lines[1:])


def test_overdue_line_when_items_are_slow():
    """every_s=0: every finished item is overdue, so every item prints (a slow stage is never silent)."""
    stream = io.StringIO()
    bar = Progress("generate", 100, "model", stream=stream, every_s=0.0)
    for _ in range(100):
        bar.update()
    assert _counts(stream.getvalue(), "generate", "model") == [(n, 100) for n in range(101)]


def test_disabled_or_empty_prints_nothing():
    stream = io.StringIO()
    for bar in (Progress("judge", 5, "x", stream=stream, enabled=False), Progress("judge", 0, stream=stream)):
        bar.update(5)
        bar.close()
    assert stream.getvalue() == ""


def test_terminal_gets_a_bar_not_lines():
    stream = Terminal()
    with Progress("judge", 7, "math/gsm8k", stream=stream) as bar:
        bar.update(7)
    text = stream.getvalue()
    assert "judge math/gsm8k" in text and "7/7" in text and "\r" in text  # a redrawn tqdm bar
    assert not any(LINE.match(line) for line in text.replace("\r", "\n").splitlines())


def test_progress_by_group_counts_each_run_of_a_group_to_its_total():
    stream = io.StringIO()
    items = ["a1", "a2", "b1", "a3"]
    assert list(progress_by_group(items, "judge", lambda s: s[0], stream=stream)) == items
    text = stream.getvalue()
    assert _counts(text, "judge", "a") == [(0, 2), (1, 2), (2, 2), (0, 1), (1, 1)]
    assert _counts(text, "judge", "b") == [(0, 1), (1, 1)]


def test_quiet_libraries_turns_transformers_bars_off_and_restores_them():
    from transformers.utils import logging as hf_logging

    hf_logging.enable_progress_bar()
    with quiet_libraries(True):
        assert not hf_logging.is_progress_bar_enabled()
    assert hf_logging.is_progress_bar_enabled()
    with quiet_libraries(False):
        assert hf_logging.is_progress_bar_enabled()
