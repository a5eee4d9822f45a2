"""The program the sandbox runs: sets resource limits, runs untrusted code, reports a verdict.

Run as ``python -I sandbox_harness.py JOB_FD VERDICT_FD`` inside the sandbox, never imported by the
judge: it uses only the standard library. The job (a JSON document: the code, the limits and a one-time
token) is read from JOB_FD, which is then closed, so untrusted code can read neither the tests nor the
token from any file. The verdict is the token written to VERDICT_FD, and only after the last line of the
program (``mode: script``) or of the tests and ``check(candidate)`` (``mode: tests``) ran without an
exception. ``sys.exit(0)``, ``os._exit(0)``, a signal or a timeout before that point therefore never pass:
the parent ignores exit statuses. Untrusted code runs with ``__name__ != "__main__"`` in ``tests`` mode,
so a solution's ``if __name__ == "__main__": input()`` block does not run (stdin is /dev/null anyway).

Limits to what this proves: code that deliberately searches this process's memory for the token could
forge a pass; the namespaces around it still contain it.
"""

from __future__ import annotations

import builtins
import json
import linecache
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


def _execute(source: str, filename: str, namespace: dict) -> None:
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)  # for tracebacks
    exec(compile(source, filename, "exec"), namespace)


def _defined_by_tests(function) -> bool:
    return getattr(getattr(function, "__code__", None), "co_filename", None) == "tests.py"


def _run(job: dict) -> None:
    """Returns only when every statement ran; raises (or never returns) otherwise."""
    if job["mode"] == "script":
        _execute(job["program"], "program.py", {"__name__": "__main__", "__builtins__": builtins})
        return
    namespace = {"__name__": "solution", "__builtins__": builtins}
    _execute(job["solution"], "solution.py", namespace)
    _execute(job["tests"], "tests.py", namespace)
    check = namespace.get("check")
    if callable(check) and _defined_by_tests(check):
        entry_point = job["entry_point"]
        if entry_point not in namespace:
            raise NameError(f"the solution does not define {entry_point!r}")
        check(namespace[entry_point])


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # untrusted code may have replaced or closed the stream
            pass


def main() -> None:
    job_fd, verdict_fd = int(sys.argv[1]), int(sys.argv[2])
    with os.fdopen(job_fd, "rb") as handle:
        job = json.load(handle)
    token, write, exit_now = job.pop("token").encode(), os.write, os._exit
    _set_limits(job["limits"])
    try:
        _run(job)
    except SystemExit as stop:
        print(f"sandbox: the program exited early (SystemExit: {stop.code!r}); not a pass", file=sys.stderr)
        _flush()
        exit_now(1)
    except BaseException:
        traceback.print_exc()
        _flush()
        exit_now(1)
    _flush()
    write(verdict_fd, token)
    exit_now(0)  # no atexit handlers or lingering threads of untrusted code run after the verdict


if __name__ == "__main__":
    main()
