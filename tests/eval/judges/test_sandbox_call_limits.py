"""Limits per call, not per process: memory summed over every process of the call, the number of
processes, and the bytes written, each exceeded on purpose by a program that spreads the load over many
processes or files (each one under the per-process limits)."""

from __future__ import annotations

import os

import pytest

from plot_eval.judges import sandbox_cgroup
from plot_eval.judges.sandbox import run_python

pytestmark = pytest.mark.usefixtures("isolated_sandbox")


@pytest.fixture()
def call_cgroup() -> None:
    """Memory and processes per call need a control group; where none can be made here (not root, no
    delegated cgroup v2 subtree) these tests skip, except under PLOT_REQUIRE_SANDBOX=1 (CI runs as root)."""
    group = sandbox_cgroup.create(64 << 20, 8)
    if group is not None:
        group.remove()
        return
    if os.environ.get("PLOT_REQUIRE_SANDBOX") == "1":
        pytest.fail("PLOT_REQUIRE_SANDBOX=1 but no control group can be created for a sandbox call")
    pytest.skip("no control group can be created here: only per-process limits apply")


THREE_HOLDERS = """
import os, time
pids, pipes = [], []
for _ in range(3):
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        block = bytearray(b"\\x01") * (300 << 20)  # written, so resident
        os.write(write_end, b"x")
        time.sleep(30)
        os._exit(0)
    os.close(write_end)
    pids.append(pid)
    pipes.append(read_end)
reported = [len(os.read(read_end, 1)) for read_end in pipes]
time.sleep(2)  # a holder may report and then be the one the cap kills when the next one fills up
held = sum(1 for pid, done in zip(pids, reported) if done and os.waitpid(pid, os.WNOHANG)[0] == 0)
print("held", held)
"""


@pytest.mark.usefixtures("call_cgroup")
def test_memory_is_capped_over_all_processes_of_a_call():
    """3 x 300 MiB written by three processes under memory_mb=512: each fits its own address-space
    limit, so only a limit on the whole call stops them: at most one holds 300 MiB at once. Counted as the
    processes still alive after all reported (one that reported may be killed when the next one fills up)."""
    result = run_python(THREE_HOLDERS, timeout_s=60, memory_mb=512)
    assert result.call_limits == "cgroup"
    held = int(result.stdout.split()[-1]) if result.stdout.startswith("held") else 0
    assert held <= 1, result.stdout + result.stderr


MANY_FILES = """
written = 0
for index in range(24):
    try:
        with open(f"/sandbox/file{index}", "wb") as handle:
            for _ in range(8):
                handle.write(b"\\x00" * (1 << 20))
                handle.flush()
                written += 1 << 20
    except OSError:
        break
print("written", written)
"""


def test_bytes_written_are_capped_over_all_files_of_a_call():
    """24 files of 8 MiB (192 MiB), each far under the per-file limit: the call may write 64 MiB."""
    result = run_python(MANY_FILES, timeout_s=60)
    written = int(result.stdout.split()[-1])
    assert 0 < written <= 64 << 20, result.stdout + result.stderr


MANY_PROCESSES = """
import os, time
started = 0
for _ in range(100):
    try:
        if os.fork() == 0:
            time.sleep(20)
            os._exit(0)
        started += 1
    except OSError:
        break
print("started", started, flush=True)
os._exit(0)
"""


@pytest.mark.usefixtures("call_cgroup")
def test_processes_are_capped_per_call():
    result = run_python(MANY_PROCESSES, timeout_s=60)
    started = int(result.stdout.split()[-1])
    assert 0 < started < 64, result.stdout + result.stderr
