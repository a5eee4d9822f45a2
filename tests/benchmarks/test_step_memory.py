"""The step-memory window: the peak after the reset covers what the steps allocate, not what came before."""

from __future__ import annotations

import sys

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads Linux /proc")

MB = 1024 * 1024


def _touch(size_mb: int) -> bytearray:
    block = bytearray(size_mb * MB)  # zero-filled: every page is written, so it is resident
    block[::4096] = b"\x01" * len(block[::4096])
    return block


def test_a_transient_before_the_window_is_left_out_and_one_inside_is_counted():
    from step_memory import start_step_window, step_peak_mb

    loading = _touch(400)  # a loading transient, freed before the first step
    del loading
    before = step_peak_mb()
    start_step_window()
    baseline = step_peak_mb()
    assert baseline < before - 300, (before, baseline)  # the 400 MB transient no longer counts
    step = _touch(200)
    inside = step_peak_mb()
    del step
    assert inside >= baseline + 190, (baseline, inside)  # what a step allocates does
    # a high-water mark: freeing the block does not lower it (the kernel folds the live RSS into VmHWM lazily,
    # so a reading may differ by a few pages from one taken while the block was live)
    assert step_peak_mb() >= inside - 2
