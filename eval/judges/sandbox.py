"""Running untrusted Python (model-written code) in an isolated sandbox.

Each call runs ``sandbox_harness`` (per-process limits: address space, CPU seconds, file size, processes)
under bubblewrap (``sandbox_bwrap``: no network, read-only system files, no parent environment, own PID
namespace), with a fresh tmpfs of ``WRITE_LIMIT_BYTES`` as the only writable place. The whole call is capped
at ``memory_mb`` and ``PROCESS_LIMIT`` processes through a fresh control group (``sandbox_cgroup``) where one
can be created. A wall-clock timeout kills PID 1 of the namespace, and the call returns only once the kernel
has killed every process in it, so nothing outlives it.

Where the sandbox cannot be set up every call raises ``SandboxUnavailableError`` unless the caller opts in
with ``allow_unsandboxed=True``: then the harness runs as a plain child process with the same limits, a
scrubbed environment and a new session, which is NOT isolation."""

from __future__ import annotations

import functools
import json
import os
import secrets
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from plot_eval.judges import sandbox_cgroup
from plot_eval.judges.sandbox_bwrap import HARNESS_DIR, bwrap_command, interpreter, missing_tool

_OUTPUT_LIMIT_BYTES = 1 << 20  # kept per stream
FILE_SIZE_LIMIT_BYTES = 32 << 20  # RLIMIT_FSIZE: any one file, the streams and the report included
WRITE_LIMIT_BYTES = 64 << 20  # the size of the call's tmpfs: all files it writes together
PROCESS_LIMIT = 32  # processes of one call at once (its control group's pids.max)
_NPROC_LIMIT = 256  # RLIMIT_NPROC, per user: the fork-bomb guard where no control group can be made
_HERE = Path(__file__).resolve().parent
# run, never imported, by the judge: the harness and the two files it imports
_HARNESS_FILES = tuple(_HERE / name for name in ("sandbox_harness.py", "sandbox_calls.py", "plain_data.py"))


class SandboxUnavailableError(RuntimeError):
    """The isolated sandbox cannot be set up here and the caller did not opt in to run without it."""


@dataclass(frozen=True)
class SandboxResult:
    passed: bool  # script: the harness saw the last statement run (never inferred from an exit status)
    returncode: int  # negative: killed by that signal; > 128 under bwrap: 128 + the signal
    stdout: str
    stderr: str
    timed_out: bool  # the wall-clock limit was hit and every process of the call killed
    killed: bool  # ended by a signal (timeout kill, CPU limit, file size limit, ...)
    isolated: bool  # ran inside the bubblewrap sandbox
    call_limits: str  # "cgroup": memory and processes capped for the whole call; "per-process": rlimits only
    report: dict | None = None  # record/outputs/replay jobs: the harness's JSON report, None if unreadable


@functools.lru_cache(maxsize=1)
def isolation_problem() -> str | None:
    """None when the isolated sandbox works here (a real trial run, once per process), else why not."""
    problem = missing_tool()
    if problem is None:
        trial = _run({"mode": "script", "program": "pass"}, 30.0, 256, isolated=True)
        if not trial.passed:
            problem = f"bwrap failed (user namespaces not permitted?): {trial.stderr.strip()[-300:]}"
    return problem


def require_isolation(allow_unsandboxed: bool = False) -> bool:
    """Whether code will run isolated; raises ``SandboxUnavailableError`` when isolation is impossible
    and not explicitly waived. Call it before expensive work that ends in running code."""
    problem = isolation_problem()
    if problem is None:
        return True
    if allow_unsandboxed:
        return False
    raise SandboxUnavailableError(
        f"refusing to run model-written code: the sandbox cannot be set up here ({problem}). Install "
        "bubblewrap (apt-get install bubblewrap) and allow user namespaces, or opt in to running it "
        "WITHOUT isolation (allow_unsandboxed=True; judges.code_exec.allow_unsandboxed: true in a suite)."
    )


def _read(path: Path) -> str:
    with path.open("rb") as handle:
        return handle.read(_OUTPUT_LIMIT_BYTES).decode("utf-8", errors="replace")


def _namespace_pidfd(info_read: int) -> int | None:
    """A pidfd of PID 1 in the sandbox (host PID from bwrap's info JSON), opened while bwrap, its parent,
    still holds it, so a later kill cannot hit a recycled PID. None if bwrap died before writing it."""
    data = b""
    with os.fdopen(info_read, "rb") as info:
        for chunk in iter(lambda: info.read1(4096), b""):
            data += chunk
            try:
                pid = int(json.loads(data)["child-pid"])
            except (ValueError, KeyError):
                continue  # not a whole document yet
            try:
                return os.pidfd_open(pid)
            except OSError:  # gone already, or a kernel before 5.3: _kill falls back to bwrap's group
                return None
    return None


def _kill(process: subprocess.Popen, namespace_pidfd: int | None) -> None:
    """Kill everything the call started. With isolation only PID 1 of the namespace is killed: the kernel
    then kills all other processes in it, and bwrap, which waits for PID 1, exits only once they are all
    reaped, so waiting for bwrap afterwards is waiting for the whole tree."""
    try:
        if namespace_pidfd is not None:
            signal.pidfd_send_signal(namespace_pidfd, signal.SIGKILL)
        else:
            os.killpg(process.pid, signal.SIGKILL)  # unsandboxed: its session's process group
    except (ProcessLookupError, PermissionError):
        pass  # already gone


def _launch(
    job: dict, host: Path, isolated: bool, streams: tuple, group: sandbox_cgroup.CallGroup | None
) -> tuple[subprocess.Popen, int | None]:
    """Start the harness: the process and, isolated, a pidfd of PID 1 of its namespace. The job reaches
    the harness only as an open descriptor of an already deleted file."""
    job_file, report_file = host / "job.json", host / "report"
    job_file.write_text(json.dumps(job))
    job_fd = os.open(job_file, os.O_RDONLY)
    job_file.unlink()
    report_fd = os.open(report_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    info_read, info_write = os.pipe() if isolated else (None, None)
    python, _ = interpreter()
    harness = _HARNESS_FILES[0]
    command = [python, "-I", f"{HARNESS_DIR}/{harness.name}" if isolated else str(harness)]
    command += [str(job_fd), str(report_fd)]
    if isolated:
        command = bwrap_command(
            command, harness_files=_HARNESS_FILES, write_limit=WRITE_LIMIT_BYTES, info_fd=info_write
        )
    if group is not None:
        command = group.launcher() + command
    fds = tuple(fd for fd in (job_fd, report_fd, info_write) if fd is not None)
    try:
        process = subprocess.Popen(
            command,
            cwd=host / "work",
            env={"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(host / "work")},
            stdin=subprocess.DEVNULL,
            stdout=streams[0],
            stderr=streams[1],
            pass_fds=fds,
            start_new_session=True,
        )
    finally:
        for fd in fds:
            os.close(fd)
    return process, (_namespace_pidfd(info_read) if isolated else None)


def _read_report(path: Path) -> dict | None:
    """The harness's JSON report, or None when it is missing, too large or not one JSON object."""
    with path.open("rb") as handle:
        raw = handle.read(FILE_SIZE_LIMIT_BYTES + 1)
    try:
        report = json.loads(raw) if len(raw) <= FILE_SIZE_LIMIT_BYTES else None
    except (ValueError, RecursionError):
        return None
    return report if isinstance(report, dict) else None


def _wait(process: subprocess.Popen, namespace_pidfd: int | None, timeout_s: float, isolated: bool) -> bool:
    """Wait for the call to end, killing all of it at the wall-clock limit; whether the limit was hit."""
    try:
        process.wait(timeout=timeout_s)
        timed_out = False
    except subprocess.TimeoutExpired:
        timed_out = True
    if timed_out or not isolated:  # an isolated call that ended has no process left
        _kill(process, namespace_pidfd)
    process.wait()
    if namespace_pidfd is not None:
        os.close(namespace_pidfd)
    return timed_out


def _run(job: dict, timeout_s: float, memory_mb: int, *, isolated: bool) -> SandboxResult:
    token = secrets.token_hex(16)
    job = {**job, "token": token} if job["mode"] == "script" else dict(job)
    job["limits"] = {
        "memory_bytes": memory_mb << 20,
        "cpu_seconds": int(timeout_s) + 1,
        "file_size_bytes": FILE_SIZE_LIMIT_BYTES,
        "processes": _NPROC_LIMIT if isolated else None,  # outside a user namespace it counts all of root's
    }
    group = sandbox_cgroup.create(memory_mb << 20, PROCESS_LIMIT)
    with tempfile.TemporaryDirectory(prefix="plot-sandbox-", ignore_cleanup_errors=True) as folder:
        host = Path(folder)
        (host / "work").mkdir()  # the working folder unsandboxed; under bwrap a tmpfs takes its place
        try:
            with (host / "stdout").open("wb") as out, (host / "stderr").open("wb") as err:
                process, namespace_pidfd = _launch(job, host, isolated, (out, err), group)
                timed_out = _wait(process, namespace_pidfd, timeout_s, isolated)
        finally:
            if group is not None:
                group.remove()
        returncode = process.returncode
        script = job["mode"] == "script"
        return SandboxResult(
            passed=script and (host / "report").read_bytes() == token.encode() and not timed_out,
            returncode=returncode,
            stdout=_read(host / "stdout"),
            stderr=_read(host / "stderr"),
            timed_out=timed_out,
            killed=timed_out or returncode < 0 or (isolated and returncode > 128),
            isolated=isolated,
            call_limits="cgroup" if group is not None else "per-process",
            report=None if script or timed_out else _read_report(host / "report"),
        )


def _checked_run(job: dict, timeout_s: float, memory_mb: int, allow_unsandboxed: bool) -> SandboxResult:
    if timeout_s <= 0 or memory_mb <= 0:
        raise ValueError(f"timeout_s ({timeout_s}) and memory_mb ({memory_mb}) must be positive")
    return _run(job, timeout_s, memory_mb, isolated=require_isolation(allow_unsandboxed))


def run_python(
    code: str, *, timeout_s: float = 10.0, memory_mb: int = 1024, allow_unsandboxed: bool = False
) -> SandboxResult:
    """Run ``code`` as a ``__main__`` program in the sandbox; ``timeout_s`` wall seconds, ``memory_mb`` MiB
    for the call. ``passed``: it ran to its end (``sys.exit`` included, an exit is not an end), as the
    harness in the program's own process reports it: a program that hunts for that report's token can
    forge it, so no verdict rests on it. stdout/stderr are returned (first MiB of each)."""
    return _checked_run({"mode": "script", "program": code}, timeout_s, memory_mb, allow_unsandboxed)


def run_job(
    job: dict, *, timeout_s: float = 10.0, memory_mb: int = 1024, allow_unsandboxed: bool = False
) -> SandboxResult:
    """Run one step of a code verdict (``mode``: ``record``, ``outputs`` or ``replay``; see
    ``plot_eval.judges.sandbox_calls``); its JSON report is ``SandboxResult.report``."""
    if job.get("mode") not in ("record", "outputs", "replay"):
        raise ValueError(f"job mode must be record, outputs or replay, got {job.get('mode')!r}")
    return _checked_run(job, timeout_s, memory_mb, allow_unsandboxed)
