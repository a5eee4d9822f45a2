"""Real SIGKILLs timed during checkpoint writes, with ``$TMPDIR`` on the same and on another filesystem (tmpfs).

After every kill the target is the previous or the new complete checkpoint (its payload is all one step), and
nothing is left in ``$TMPDIR`` or next to the target. A child process (torch only, no Lightning) writes the same
file again and again; the parent kills it at fixed fractions of a measured write.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).with_name("kill_writer.py")
REPO = Path(__file__).resolve().parents[3]
KILL_FRACTIONS = (0.15, 0.4, 0.65, 0.9)


def _kill_during_write(target: Path, tmpdir: Path, fraction: float, writer: str = "atomic") -> list[str]:
    """Start the writer, let write 0 finish, kill -9 ``fraction`` of write 0's duration after write 1 began;
    return every line it printed (flushed) before it died: a later write may have begun, or ended, by then."""
    env = {**os.environ, "TMPDIR": str(tmpdir), "PYTHONPATH": str(REPO)}
    child = subprocess.Popen(
        [sys.executable, str(SCRIPT), "--target", str(target), "--writer", writer],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    lines: list[str] = []
    try:
        duration = None
        for line in child.stdout:
            lines.append(line.strip())
            if line.startswith("end 0"):
                duration = float(line.split()[2])
            if line.startswith("begin 1"):
                time.sleep(duration * fraction)
                child.send_signal(signal.SIGKILL)
                break
    finally:
        child.kill()
        child.wait(timeout=60)
    lines += [line.strip() for line in child.stdout]  # what it printed between "begin 1" and its death
    assert child.returncode == -signal.SIGKILL, lines
    return lines


def _last(lines: list[str], event: str) -> int:
    return max(int(line.split()[1]) for line in lines if line.startswith(event))


def _check_state(target: Path, tmpdir: Path) -> int:
    checkpoint = torch.load(target, weights_only=True)
    payload = checkpoint["payload"]
    assert bool((payload == float(checkpoint["step"])).all()), "mixed or truncated payload"
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name], "orphan next to the target"
    assert list(tmpdir.iterdir()) == [], "orphan in $TMPDIR"
    return int(checkpoint["step"])


@pytest.mark.slow
@pytest.mark.multiprocess
@pytest.mark.parametrize("where", ["same_filesystem", "tmpfs"])
def test_kills_during_writes_leave_old_or_new_complete_checkpoint(tmp_path, where, request) -> None:
    if where == "tmpfs":
        tmpdir = request.getfixturevalue("other_filesystem_tmpdir")
    else:
        tmpdir = tmp_path / "tmp"
        tmpdir.mkdir()
    interrupted = 0
    for index, fraction in enumerate(KILL_FRACTIONS):
        target = tmp_path / f"run{index}" / "last.ckpt"
        lines = _kill_during_write(target, tmpdir, fraction)
        begun, ended = _last(lines, "begin"), _last(lines, "end")
        # the last complete write, or the interrupted one if its rename landed before the kill; never a mix.
        # A write can finish faster than write 0 did, so the kill is not always inside write 1 (it was
        # once at 0.9 on the loaded CI machine): the claim is about whatever write it hit.
        assert _check_state(target, tmpdir) in {ended, begun}, lines
        interrupted += begun > ended
    assert interrupted >= 1  # at least one kill landed inside a write (0.15 of one always has, so far)
