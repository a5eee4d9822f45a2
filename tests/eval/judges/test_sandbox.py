"""The sandbox: normal runs, wall timeout killing the whole process tree, memory limit, no network,
scrubbed environment, temporary working folder."""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

import pytest

from eval.judges.sandbox import network_namespace_available, run_python


def _is_dead(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status")
    if not status.exists():
        return True
    state = next((line for line in status.read_text().splitlines() if line.startswith("State:")), "")
    return "Z" in state.split()[1:2]  # a zombie has exited and only awaits reaping


def test_passing_and_failing_programs():
    ok = run_python("print('hello')", timeout_s=10)
    assert ok.passed and ok.returncode == 0 and ok.stdout == "hello\n" and not ok.timed_out
    bad = run_python("assert 1 + 1 == 3", timeout_s=10)
    assert not bad.passed and bad.returncode == 1 and "AssertionError" in bad.stderr and not bad.killed


def test_infinite_loop_and_its_children_are_killed_on_timeout():
    code = (
        "import subprocess, sys\n"
        "child = subprocess.Popen([sys.executable, '-c', 'while True: pass'])\n"
        "print(child.pid, flush=True)\n"
        "while True:\n    pass\n"
    )
    result = run_python(code, timeout_s=2)
    assert result.timed_out and result.killed and not result.passed
    child_pid = int(result.stdout.split()[0])
    assert _is_dead(child_pid)


def test_memory_hog_fails():
    result = run_python("block = bytearray(2 * 1024 ** 3)\nprint('allocated')", timeout_s=10, memory_mb=512)
    assert not result.passed and "allocated" not in result.stdout
    assert "MemoryError" in result.stderr or result.killed


@pytest.fixture()
def listening_port():
    """A real TCP server on 127.0.0.1 that the test process itself can reach."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    thread = threading.Thread(target=lambda: server.accept(), daemon=True)
    thread.start()
    yield server.getsockname()[1]
    server.close()


@pytest.mark.parametrize("namespace", [True, False], ids=["namespace-if-available", "audit-hook-only"])
def test_network_is_blocked(listening_port, namespace, monkeypatch):
    """Python code in the sandbox is stopped by the audit hook, with or without a network namespace."""
    if not namespace:
        monkeypatch.setattr("eval.judges.sandbox.network_namespace_available", lambda: False)
    with socket.create_connection(("127.0.0.1", listening_port), timeout=5):
        pass  # reachable from outside the sandbox
    code = (
        "import socket\n"
        f"socket.create_connection(('127.0.0.1', {listening_port}), timeout=5)\n"
        "print('CONNECTED')\n"
    )
    result = run_python(code, timeout_s=10)
    assert not result.passed and "CONNECTED" not in result.stdout
    assert "PermissionError: network access is disabled" in result.stderr, result.stderr


@pytest.mark.skipif(not network_namespace_available(), reason="unshare -n not permitted here")
def test_subprocess_network_is_blocked_by_namespace(listening_port):
    """A child process escapes the audit hook but not the empty network namespace."""
    connect = f"import socket; socket.create_connection(('127.0.0.1', {listening_port}), timeout=5); print('CONNECTED')"
    code = f"import subprocess, sys\nsubprocess.run([sys.executable, '-c', {connect!r}], check=True)\n"
    result = run_python(code, timeout_s=10)
    assert not result.passed and "CONNECTED" not in result.stdout
    assert "Network is unreachable" in result.stderr or "Connection refused" in result.stderr, result.stderr


def test_environment_scrubbed_and_workdir_temporary(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "secret-value")
    result = run_python("import os\nprint(sorted(os.environ))\nprint(os.getcwd())", timeout_s=10)
    assert result.passed and "OPENAI_API_KEY" not in result.stdout
    workdir = result.stdout.splitlines()[1]
    assert "plot-sandbox-" in workdir and not os.path.exists(workdir)


def test_unix_sockets_still_work():
    """Local IPC (socketpair, as multiprocessing uses) is not network access."""
    code = "import socket\na, b = socket.socketpair()\na.sendall(b'ok')\nprint(b.recv(2).decode())"
    result = run_python(code, timeout_s=10)
    assert result.passed and result.stdout == "ok\n"
