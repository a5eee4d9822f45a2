"""Default CPU thread count of a training process (the CLI and the demo).

Rule: unless ``OMP_NUM_THREADS`` is set (then torch's own reading of it is kept), each process uses
``max(1, min(MAX_THREADS, physical cores available // processes on this node))`` intra-op threads: one
thread per physical core (hyper-threads add contention, not throughput, to the GEMMs), split between the
processes of a DDP/FSDP run on CPU (two processes with all cores each oversubscribe the machine), capped
because small models stop scaling well before that (measurements: README "CPU threads").
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import torch

log = logging.getLogger(__name__)
MAX_THREADS = 8


def physical_cores(cpuinfo: Path = Path("/proc/cpuinfo")) -> int:
    """Physical cores this process may run on: distinct (package, core) pairs among its allowed CPUs.

    Falls back to the number of allowed logical CPUs where ``/proc/cpuinfo`` is missing or unparsable.
    """
    allowed = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set(range(os.cpu_count() or 1))
    try:
        blocks = cpuinfo.read_text(encoding="utf-8").strip().split("\n\n")
    except OSError:
        return max(1, len(allowed))
    cores = set()
    for block in blocks:
        fields = dict(line.split(":", 1) for line in block.splitlines() if ":" in line)
        fields = {key.strip(): value.strip() for key, value in fields.items()}
        if "processor" in fields and int(fields["processor"]) in allowed:
            cores.add((fields.get("physical id", "0"), fields.get("core id", fields["processor"])))
    return max(1, len(cores) or len(allowed))


def default_threads(processes: int = 1, cores: int | None = None) -> int:
    """``max(1, min(MAX_THREADS, cores // processes))`` with ``cores`` = :func:`physical_cores` by default."""
    cores = physical_cores() if cores is None else cores
    return max(1, min(MAX_THREADS, cores // max(1, processes)))


def configure_threads(processes: int = 1) -> int:
    """Apply the default (see the module docstring) unless ``OMP_NUM_THREADS`` is set; return the count."""
    if os.environ.get("OMP_NUM_THREADS"):
        log.info("torch threads: %d (OMP_NUM_THREADS)", torch.get_num_threads())
        return torch.get_num_threads()
    threads = default_threads(processes)
    torch.set_num_threads(threads)
    log.info(
        "torch threads: %d (%d process(es) per node; set OMP_NUM_THREADS to override)", threads, processes
    )
    return threads
