"""The default thread rule: physical cores split between the node's processes, capped, OMP_NUM_THREADS wins."""

from __future__ import annotations

import torch

from plot_lightning.threads import MAX_THREADS, configure_threads, default_threads, physical_cores


def test_rule():
    assert default_threads(1, cores=2) == 2
    assert default_threads(2, cores=2) == 1 and default_threads(4, cores=2) == 1
    assert default_threads(1, cores=64) == MAX_THREADS == 8
    assert default_threads(3, cores=16) == 5


def test_physical_cores_count_distinct_cores_not_hyperthreads(tmp_path):
    """Four logical CPUs on two cores (two hyper-threads each): 2 physical cores (when all are allowed)."""
    import os

    allowed = sorted(os.sched_getaffinity(0))
    blocks = [
        f"processor\t: {cpu}\nphysical id\t: 0\ncore id\t\t: {index // 2}\n"
        for index, cpu in enumerate(allowed[:4])
    ]
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("\n".join(blocks), encoding="utf-8")
    assert physical_cores(cpuinfo) == (len(blocks) + 1) // 2
    assert physical_cores(tmp_path / "missing") == len(allowed)


def test_omp_num_threads_is_honoured(monkeypatch):
    before = torch.get_num_threads()
    try:
        monkeypatch.setenv("OMP_NUM_THREADS", "1")
        assert configure_threads(processes=1) == torch.get_num_threads() == before  # left as torch read it
        monkeypatch.delenv("OMP_NUM_THREADS")
        assert configure_threads(processes=2) == default_threads(2) == torch.get_num_threads()
    finally:
        torch.set_num_threads(before)
