"""The sandbox: normal runs, pass only from the harness, wall timeout killing the whole tree, resource
limits, no network, temporary folders, and refusal where isolation is impossible. Escape attempts are in
test_sandbox_escapes.py."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import threading
import uuid
from pathlib import Path

import pytest

from plot_eval.judges import sandbox
from plot_eval.judges.sandbox import SandboxUnavailableError, run_python

needs_isolation = pytest.mark.usefixtures("isolated_sandbox")


def _processes_with(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


@needs_isolation
def test_passing_and_failing_programs():
    ok = run_python("print('hello')", timeout_s=10)
    assert ok.passed and ok.isolated and ok.returncode == 0 and ok.stdout == "hello\n" and not ok.timed_out
    bad = run_python("assert 1 + 1 == 3", timeout_s=10)
    assert not bad.passed and bad.returncode == 1 and "AssertionError" in bad.stderr and not bad.killed
    assert "program.py" in bad.stderr  # the traceback names the program's line


@needs_isolation
@pytest.mark.parametrize("exit_call", ["sys.exit(0)", "os._exit(0)", "raise SystemExit"])
def test_an_early_exit_is_not_a_pass(exit_call):
    """The exit status says nothing: only the harness, after the last statement, reports a pass."""
    result = run_python(f"import os, sys\n{exit_call}\nprint('never reached')", timeout_s=10)
    assert not result.passed and "never reached" not in result.stdout
    assert result.returncode in (0, 1)  # os._exit(0) even exits 0


@needs_isolation
def test_infinite_loop_and_its_children_are_killed_on_timeout():
    """Deterministic: run_python returns only once every process of the call is gone. (The loops sleep so
    that a loaded machine still starts the child well within the limit.)"""
    marker = f"plot-sandbox-loop-{uuid.uuid4().hex}"
    code = (
        "import subprocess, sys, time\n"
        f"subprocess.Popen([sys.executable, '-c', 'import time\\nwhile True: time.sleep(1)', {marker!r}])\n"
        "print('started', flush=True)\n"
        "while True:\n    time.sleep(1)\n"
    )
    result = run_python(code, timeout_s=8)
    assert result.timed_out and result.killed and not result.passed and result.stdout == "started\n"
    assert _processes_with(marker) == []


@needs_isolation
def test_memory_hog_fails():
    result = run_python("block = bytearray(2 * 1024 ** 3)\nprint('allocated')", timeout_s=10, memory_mb=512)
    assert not result.passed and "allocated" not in result.stdout
    assert "MemoryError" in result.stderr or result.killed


@needs_isolation
def test_fork_bomb_is_capped():
    code = (
        "import os, time\n"
        "children = 0\n"
        "try:\n"
        "    for _ in range(1000):\n"
        "        if os.fork() == 0:\n"
        "            time.sleep(30); os._exit(0)\n"
        "        children += 1\n"
        "except OSError as error:\n"
        "    print('capped at', children, type(error).__name__)\n"
    )
    result = run_python(code, timeout_s=20)
    assert result.stdout.startswith("capped at"), result.stdout + result.stderr
    assert int(result.stdout.split()[2]) < 256


@needs_isolation
def test_oversized_file_is_stopped(tmp_path):
    result = run_python("open('big', 'wb').write(b'x' * (100 << 20))\nprint('written')", timeout_s=20)
    assert not result.passed and "written" not in result.stdout
    assert "File too large" in result.stderr or result.killed  # RLIMIT_FSIZE: EFBIG (SIGXFSZ is ignored)


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


@needs_isolation
@pytest.mark.parametrize("through", ["python", "subprocess"])
def test_network_is_unreachable(listening_port, through):
    with socket.create_connection(("127.0.0.1", listening_port), timeout=5):
        pass  # reachable from outside the sandbox
    connect = f"import socket; socket.create_connection(('127.0.0.1', {listening_port}), timeout=5); print('CONNECTED')"
    code = (
        connect
        if through == "python"
        else f"import subprocess, sys\nsubprocess.run([sys.executable, '-c', {connect!r}])"
    )
    result = run_python(code, timeout_s=10)
    assert "CONNECTED" not in result.stdout
    assert "Connection refused" in result.stderr or "unreachable" in result.stderr, result.stderr


@needs_isolation
def test_environment_scrubbed_and_host_folder_temporary(monkeypatch, tmp_path):
    monkeypatch.setenv("OPENAI_API_KEY", "secret-value")
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)
    result = run_python("import os\nprint(sorted(os.environ))\nprint(os.getcwd())", timeout_s=10)
    assert result.passed and result.stdout.splitlines() == [
        "['HOME', 'LANG', 'PATH', 'PWD', 'TMPDIR']",
        "/sandbox",
    ]
    assert list(tmp_path.iterdir()) == []  # the host folder of the call is gone


@needs_isolation
def test_unix_sockets_inside_the_sandbox_still_work():
    """Local IPC (socketpair, as multiprocessing uses) within the program is not network access."""
    code = "import socket\na, b = socket.socketpair()\na.sendall(b'ok')\nprint(b.recv(2).decode())"
    result = run_python(code, timeout_s=10)
    assert result.passed and result.stdout == "ok\n"


def test_refuses_without_isolation_unless_opted_in(monkeypatch, tmp_path):
    monkeypatch.setattr(
        "plot_eval.judges.sandbox.isolation_problem", lambda: "bubblewrap (bwrap) is not installed"
    )
    with pytest.raises(SandboxUnavailableError, match="bwrap.*not installed.*allow_unsandboxed"):
        run_python("print('ran')")
    ran = run_python("print('ran')", allow_unsandboxed=True)
    assert ran.passed and not ran.isolated and ran.stdout == "ran\n"
    exited = run_python("import sys\nsys.exit(0)", allow_unsandboxed=True)
    assert not exited.passed  # the harness still decides, without isolation too


@needs_isolation
def test_runs_as_nobody_without_capabilities_or_new_privileges():
    code = "print(*[line.split()[1] for line in open('/proc/self/status') if line.startswith(('Uid', 'CapEff', 'NoNewPrivs'))])"
    result = run_python(code, timeout_s=20)
    assert result.stdout.split() == ["65534", "0000000000000000", "1"], result.stdout + result.stderr


@needs_isolation
def test_the_working_folder_is_the_only_writable_place():
    paths = ["/x", "/usr/x", "/dev/x", "/dev/shm/x", "/harness/x", "/sandbox/x", "/tmp/x"]
    code = (
        f"for path in {paths!r}:\n"
        "    try:\n"
        "        open(path, 'w').write('1'); print(path)\n"
        "    except OSError:\n"
        "        pass\n"
        "open('/dev/null', 'w').write('discarded')\n"
    )
    result = run_python(code, timeout_s=20)
    assert result.passed and result.stdout.split() == ["/sandbox/x", "/tmp/x"]  # /tmp links to /sandbox


UNPRIVILEGED_CHECK = """
import os, sys
sys.path.insert(0, os.getcwd())  # the copied package (-I leaves the working directory off sys.path)
from plot_eval.judges.sandbox import run_python
code = '''
import os, socket, time
print(os.getuid())
try:
    socket.create_connection(('127.0.0.1', 9), timeout=5)
except OSError as error:
    print(type(error).__name__)
children = 0
try:
    for _ in range(1000):
        if os.fork() == 0:
            time.sleep(30); os._exit(0)
        children += 1
except OSError:
    print('capped', children < 256)
'''
result = run_python(code, timeout_s=30)
print(os.getuid(), result.isolated, result.passed, result.stdout.split(), result.stderr)
"""


@needs_isolation
@pytest.mark.skipif(
    os.geteuid() != 0 or not Path("/usr/bin/python3").exists(), reason="needs root to become nobody"
)
def test_an_unprivileged_caller_gets_the_user_namespace_sandbox(tmp_path):
    """The path every non-root user takes (bwrap in a user namespace): the sandbox modules, copied into a
    folder that nobody can read, run by the system Python as the host user nobody."""
    package = Path(tempfile.mkdtemp(prefix="plot-sandbox-unprivileged-"))
    try:
        (package / "plot_eval" / "judges").mkdir(parents=True)
        for name in ("__init__.py", "judges/__init__.py"):
            (package / "plot_eval" / name).touch()
        modules = ("sandbox.py", "sandbox_bwrap.py", "sandbox_cgroup.py", "sandbox_harness.py")
        for module in (*modules, "sandbox_calls.py", "plain_data.py"):
            shutil.copy(Path(sandbox.__file__).with_name(module), package / "plot_eval" / "judges" / module)
        for path in [package, *package.rglob("*")]:
            path.chmod(0o755)
        become_nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        done = subprocess.run(
            [*become_nobody, "/usr/bin/python3", "-I", "-c", UNPRIVILEGED_CHECK],
            cwd=package,
            env={"PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        shutil.rmtree(package)
    assert done.stdout.split("[")[0].split() == ["65534", "True", "True"], done.stdout + done.stderr
    assert "['65534', 'ConnectionRefusedError', 'capped', 'True']" in done.stdout
