"""Is the machine quiet enough to time? Benchmarks refuse to report timings taken under foreign load.

Two measures (Linux):

* the 1-minute load average before the first measurement (``os.getloadavg``), which must be below
  ``max_load`` (default 0.5) so that nothing else was running when the benchmark started;
* during each measured interval, the CPU time the whole machine spent busy (``/proc/stat``) minus the CPU
  time of this process and its finished children: the *foreign* cores. The load average cannot tell our
  own work from others' (it is a lagging count of runnable tasks, ours included); this difference can.

A timing is reported only when both are below their limits; otherwise the benchmark prints the reason and
leaves the timing out (memory and correctness figures do not depend on the load and are still reported).
"""

from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass

DEFAULT_MAX_LOAD = 0.5  # 1-minute load average at start
DEFAULT_MAX_FOREIGN = 0.15  # cores used by other processes during a measured interval


def _busy_seconds() -> float:
    """CPU seconds all cores spent not idle since boot (``/proc/stat`` first line)."""
    with open("/proc/stat") as stat:
        fields = [int(value) for value in stat.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _own_seconds() -> float:
    """CPU seconds of this process and of its waited-for children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@dataclass
class Interval:
    """One measured interval: wall seconds and the cores other processes used meanwhile."""

    wall_s: float
    foreign_cores: float


class LoadProbe:
    """``with probe.interval() as record: ...`` measures one interval; ``probe.verdict()`` says if it is quiet."""

    def __init__(self, max_load: float = DEFAULT_MAX_LOAD, max_foreign: float = DEFAULT_MAX_FOREIGN):
        self.max_load, self.max_foreign = max_load, max_foreign
        self.start_load = os.getloadavg()
        self.intervals: list[Interval] = []

    def measure(self, run) -> object:
        """Run ``run()`` and record its interval; returns what ``run`` returns."""
        busy, own, start = _busy_seconds(), _own_seconds(), time.perf_counter()
        result = run()
        wall = time.perf_counter() - start
        foreign = max(0.0, (_busy_seconds() - busy) - (_own_seconds() - own)) / max(wall, 1e-9)
        self.intervals.append(Interval(wall, foreign))
        return result

    def verdict(self) -> tuple[bool, str]:
        """``(quiet, reason)``: quiet only if the start load and every interval's foreign cores are low. A
        refusal names every failed check and always gives the foreign cores measured, so a reader can tell a
        load average left over from our own previous work (foreign cores ~0) from a machine really shared."""
        load = self.start_load[0]
        worst = max((i.foreign_cores for i in self.intervals), default=0.0)
        failed = []
        if load > self.max_load:
            failed.append(f"load average {load:.2f} at start > {self.max_load}")
        if worst > self.max_foreign:
            failed.append(
                f"other processes used {worst:.2f} cores during a measurement (> {self.max_foreign})"
            )
        if failed:
            return False, "; ".join(failed) + f" (at most {worst:.2f} foreign cores during the measurements)"
        return True, f"quiet: load average {load:.2f} at start, at most {worst:.2f} foreign cores"

    def describe(self) -> str:
        one, five, fifteen = self.start_load
        return f"load average at start {one:.2f} {five:.2f} {fifteen:.2f}, {os.cpu_count()} CPUs"
