"""Limits on a whole sandbox call (every process it starts, together) through a control group.

``setrlimit`` holds per process: three processes under a 1 GiB address-space limit can hold 3 GiB. So each
call gets a fresh child of the judge's own control group, where the kernel sums the memory (page cache, the
call's tmpfs and, where accounted, swap included) and counts the processes of the whole call (cgroup v1 or
v2). Over the memory limit the OOM killer kills a process of the call; at the process limit ``fork`` fails.
The launcher moves itself into the group before it ``exec``\\ s the sandbox, so every process starts inside.
Where no child group can be created (no write access to the judge's own group) ``create`` returns None and
only the per-process limits apply (``SandboxResult.call_limits`` says which held)."""

from __future__ import annotations

import contextlib
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
# moves the shell itself (and so what it then execs) into each group's cgroup.procs, then execs the call
_MOVE_SELF = (
    'n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ > "$1" || exit 125; shift; n=$((n-1)); done; exec "$@"'
)


def _own_groups() -> dict[str, str]:
    """Controller name ("" for cgroup v2) -> this process's group path, from /proc/self/cgroup."""
    groups = {}
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            for controller in controllers.split(","):
                groups[controller] = path.lstrip("/")
    return groups


def _plan(memory_bytes: int, processes: int, name: str) -> list[tuple[Path, list[tuple[str, int, bool]]]]:
    """(folder, [(file, value, required)]) for each group to create."""
    own = _own_groups()
    if "memory" in own and "pids" in own:  # cgroup v1: one hierarchy per controller
        memory = [
            ("memory.limit_in_bytes", memory_bytes, True),
            ("memory.memsw.limit_in_bytes", memory_bytes, False),
        ]
        return [
            (ROOT / "memory" / own["memory"] / name, memory),
            (ROOT / "pids" / own["pids"] / name, [("pids.max", processes, True)]),
        ]
    if "" in own and (ROOT / "cgroup.controllers").exists():  # cgroup v2: one unified hierarchy
        limits = [
            ("memory.max", memory_bytes, True),
            ("memory.swap.max", 0, False),
            ("pids.max", processes, True),
        ]
        return [(ROOT / own[""] / name, limits)]
    return []


@dataclass
class CallGroup:
    """The control groups of one call; ``launcher()`` prefixes the call's command line."""

    folders: list[Path]

    def launcher(self) -> list[str]:
        procs = [str(folder / "cgroup.procs") for folder in self.folders]
        return ["/bin/sh", "-c", _MOVE_SELF, "plot-sandbox", str(len(procs)), *procs]

    def remove(self) -> None:
        """Remove the groups (empty once the call's processes are reaped; the kernel may lag a moment)."""
        for folder in self.folders:
            for _ in range(100):
                try:
                    folder.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)


def create(memory_bytes: int, processes: int) -> CallGroup | None:
    """Fresh groups that cap a call at ``memory_bytes`` in all and ``processes`` at once; None where
    they cannot be created here."""
    made = CallGroup([])
    try:
        plan = _plan(memory_bytes, processes, f"plot-sandbox-{secrets.token_hex(8)}")
        for folder, limits in plan:
            folder.mkdir()
            made.folders.append(folder)
            for file, value, required in limits:
                try:
                    (folder / file).write_text(str(value))
                except OSError:
                    if required:
                        raise
    except OSError:
        made.remove()
        return None
    return made if plan else None
