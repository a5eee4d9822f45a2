"""The program the sandbox runs: sets resource limits, then runs one job and reports on it.

Run as ``python -I sandbox_harness.py JOB_FD REPORT_FD``, never imported by the judge: standard library only
(and its neighbours ``sandbox_calls.py`` and ``plain_data.py``). The job is a JSON document read from JOB_FD:

- ``script`` (``run_python``): runs a program as ``__main__`` and writes the job's one-time token to
  REPORT_FD after its last line ran, so an early exit, signal or timeout is not a run to the end. The
  program shares this process and could forge that report: it serves tests of the sandbox, never a verdict.
- ``record``, ``outputs``, ``replay``: the steps of a code verdict (``sandbox_calls.py``), whose JSON report
  the judge validates. Only ``outputs`` runs untrusted code, and all it can forge is its own answers; the
  verdict comes from ``replay``, a separate process with no untrusted code in it."""

from __future__ import annotations

import builtins
import json
import os
import resource
import sys
import traceback

_LIMITS = {
    "memory_bytes": resource.RLIMIT_AS,
    "cpu_seconds": resource.RLIMIT_CPU,
    "file_size_bytes": resource.RLIMIT_FSIZE,
    "processes": resource.RLIMIT_NPROC,
}


def _set_limits(limits: dict) -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    for name, value in limits.items():
        if value is not None:
            resource.setrlimit(_LIMITS[name], (value, value))


def _write_all(fd: int, data: bytes, write) -> None:
    while data:
        data = data[write(fd, data) :]


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # untrusted code may have replaced or closed the stream
            pass


def _run_calls(sandbox_calls, job: dict, report_fd: int) -> None:
    """A step of a code verdict: its report, or the error that stopped it, as one JSON document."""
    write, exit_now, dumps = os.write, os._exit, json.dumps  # before untrusted code can replace them
    try:
        report = sandbox_calls.MODES[job["mode"]](job)
    except BaseException as error:  # noqa: BLE001 - any failure of the step is reported, not raised
        traceback.print_exc()
        report = {"error": f"{type(error).__name__}: {error}"[:500]}
    _flush()
    try:
        _write_all(report_fd, dumps(report).encode(), write)
    except BaseException as error:  # noqa: BLE001 - e.g. an int too long to print
        _write_all(report_fd, dumps({"error": f"unreportable: {type(error).__name__}"}).encode(), write)
    exit_now(0)  # no atexit handlers or lingering threads of untrusted code run after the report


def main() -> None:
    job_fd, report_fd = int(sys.argv[1]), int(sys.argv[2])
    with os.fdopen(job_fd, "rb") as handle:
        job = json.load(handle)
    _set_limits(job.pop("limits"))
    sys.path.append(os.path.dirname(os.path.abspath(__file__)))  # -I leaves this folder off sys.path
    import sandbox_calls  # the three steps of a code verdict, and `execute`

    if job["mode"] != "script":
        _run_calls(sandbox_calls, job, report_fd)
    token, write, exit_now = job.pop("token").encode(), os.write, os._exit
    try:
        sandbox_calls.execute(
            job["program"], "program.py", {"__name__": "__main__", "__builtins__": builtins}
        )
    except SystemExit as stop:
        print(f"sandbox: the program exited early (SystemExit: {stop.code!r}); not a pass", file=sys.stderr)
        _flush()
        exit_now(1)
    except BaseException:
        traceback.print_exc()
        _flush()
        exit_now(1)
    _flush()
    write(report_fd, token)
    exit_now(0)  # no atexit handlers or lingering threads of the program run after the report


if __name__ == "__main__":
    main()
