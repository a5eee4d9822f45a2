"""Running untrusted Python (model-written code) in a sandboxed subprocess.

Isolation, layer by layer:
- a fresh temporary folder as working directory and HOME, deleted afterwards;
- ``python -I`` (isolated mode: no user site-packages, no PYTHON* variables, script dir not on sys.path)
  with a scrubbed environment (PATH, HOME, LANG only);
- resource limits set in the child before exec: address space (RLIMIT_AS = ``memory_mb``), CPU seconds
  (RLIMIT_CPU), output file size (RLIMIT_FSIZE) and no core dumps;
- no network: the child runs in a new, empty network namespace (``unshare -n``, where the kernel allows it,
  e.g. as root) and, always, under an audit hook that refuses to create non-Unix sockets and to resolve
  names (this covers Python code; a subprocess the code starts is covered by the namespace only);
- a wall-clock timeout after which the child's whole process group (it is started in a new session) gets
  SIGKILL, so processes it spawned die too; the group is also killed after a normal exit.
It is a best-effort sandbox for benchmark code, not a security boundary against a determined attacker.
"""

from __future__ import annotations

import functools
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

_OUTPUT_LIMIT_BYTES = 1 << 20  # kept per stream; RLIMIT_FSIZE stops a child flooding the disk
_FILE_SIZE_LIMIT_BYTES = 64 << 20

# Runs inside the child before the program: installs the network guard, then executes program.py.
_LAUNCHER = """
import socket, sys
def _no_network(event, args, _unix=socket.AF_UNIX):
    if event == "socket.__new__" and args[1] != _unix:
        raise PermissionError("network access is disabled in the sandbox")
    if event in ("socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyaddr"):
        raise PermissionError("network access is disabled in the sandbox")
    if event == "socket.connect" and isinstance(args[1], tuple):  # (host, port): not a Unix socket path
        raise PermissionError("network access is disabled in the sandbox")
sys.addaudithook(_no_network)
del _no_network, socket
sys.argv = sys.argv[1:]
import runpy
runpy.run_path(sys.argv[0], run_name="__main__")
"""


@dataclass(frozen=True)
class SandboxResult:
    passed: bool  # exited with status 0 within the time limit
    returncode: int  # negative: killed by that signal
    stdout: str
    stderr: str
    timed_out: bool  # the wall-clock limit was hit and the process group killed
    killed: bool  # ended by a signal (timeout kill, CPU limit, file size limit, ...)


@functools.lru_cache(maxsize=1)
def network_namespace_available() -> bool:
    """Whether ``unshare -n`` can create a network namespace here (root or user namespaces)."""
    if shutil.which("unshare") is None:
        return False
    try:
        probe = subprocess.run(["unshare", "-n", "true"], capture_output=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return False
    return probe.returncode == 0


def _limit_resources(memory_mb: int, cpu_seconds: int) -> None:
    """preexec_fn: runs in the child between fork and exec."""
    memory = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (_FILE_SIZE_LIMIT_BYTES, _FILE_SIZE_LIMIT_BYTES))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _command(program: Path) -> list[str]:
    python = [sys.executable, "-I", "-c", _LAUNCHER, str(program)]
    return ["unshare", "-n", *python] if network_namespace_available() else python


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass  # the group is already gone


def _read(path: Path) -> str:
    with path.open("rb") as handle:
        return handle.read(_OUTPUT_LIMIT_BYTES).decode("utf-8", errors="replace")


def run_python(code: str, *, timeout_s: float = 10.0, memory_mb: int = 1024) -> SandboxResult:
    """Run ``code`` as a Python program in the sandbox; ``timeout_s`` wall seconds, ``memory_mb`` MiB of
    address space. stdout/stderr are returned (first MiB of each)."""
    if timeout_s <= 0 or memory_mb <= 0:
        raise ValueError(f"timeout_s ({timeout_s}) and memory_mb ({memory_mb}) must be positive")
    workdir = Path(tempfile.mkdtemp(prefix="plot-sandbox-"))
    try:
        program = workdir / "program.py"
        program.write_text(code)
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(workdir), "LANG": "C.UTF-8"}
        cpu_seconds = int(timeout_s) + 1
        with (workdir / "stdout").open("wb") as out, (workdir / "stderr").open("wb") as err:
            process = subprocess.Popen(
                _command(program),
                cwd=workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,  # own process group: killpg reaches every descendant
                preexec_fn=functools.partial(_limit_resources, memory_mb, cpu_seconds),
            )
            timed_out = False
            try:
                process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                timed_out = True
            _kill_group(process)
            returncode = process.wait()
        return SandboxResult(
            passed=returncode == 0 and not timed_out,
            returncode=returncode,
            stdout=_read(workdir / "stdout"),
            stderr=_read(workdir / "stderr"),
            timed_out=timed_out,
            killed=returncode < 0,
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
