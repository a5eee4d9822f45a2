"""The step-memory window: the peak after the reset covers what the steps allocate, not what came before.

The check runs in a fresh interpreter, as every benchmark configuration does: in a long-lived process (this
test suite) freed memory that the allocator keeps resident can serve a new block without raising the
resident set, so the "a step's allocation is counted" half would depend on what ran before.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads Linux /proc")

SCRIPT = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, sys.argv[1])
    from step_memory import start_step_window, step_peak_mb

    MB = 1024 * 1024

    def touch(size_mb):
        block = bytearray(size_mb * MB)  # every page written below, so it is resident
        block[::4096] = b"\\x01" * len(block[::4096])
        return block

    loading = touch(400)  # a loading transient, freed before the first step
    del loading
    before = step_peak_mb()
    start_step_window()
    baseline = step_peak_mb()
    assert baseline < before - 300, (before, baseline)  # the 400 MB transient no longer counts
    step = touch(200)
    inside = step_peak_mb()
    del step
    assert inside >= baseline + 190, (baseline, inside)  # what a step allocates does
    # a high-water mark: freeing the block does not lower it (the kernel folds the live RSS into VmHWM
    # lazily, so a reading may differ by a few pages from one taken while the block was live)
    assert step_peak_mb() >= inside - 2, (inside, step_peak_mb())
    print("ok", before, baseline, inside)
    """
)


def test_a_transient_before_the_window_is_left_out_and_one_inside_is_counted():
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(BENCHMARKS)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("ok")
