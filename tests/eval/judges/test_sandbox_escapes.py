"""Escapes from the sandbox, each a real attempt: the attempt's code runs once outside the sandbox (the
control, where that is safe) to prove it works, then inside, where it must fail and leave no trace."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest

from plot_eval.judges.sandbox import run_python

pytestmark = pytest.mark.usefixtures("isolated_sandbox")

ESCAPED = "ESCAPED"


def _outside(code: str, tmp_path: Path) -> subprocess.CompletedProcess:
    """The same attempt as a plain child process of the test (no sandbox): the control."""
    return subprocess.run(
        [sys.executable, "-I", "-c", code], capture_output=True, text=True, timeout=30, cwd=tmp_path
    )


def _inside(code: str) -> str:
    result = run_python(code, timeout_s=20)
    assert not result.timed_out, result.stderr
    return result.stdout + result.stderr


@pytest.fixture()
def tcp_port():
    """A real TCP server on 127.0.0.1 that accepts any number of connections."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)

    def serve():
        while True:
            try:
                server.accept()[0].close()
            except OSError:
                return

    threading.Thread(target=serve, daemon=True).start()
    yield server.getsockname()[1]
    server.close()


@pytest.fixture()
def unix_socket(tmp_path):
    """A real Unix-domain server on a host path and one in the abstract namespace."""
    servers = []
    path = str(tmp_path / "host.sock")
    abstract = f"\0plot-sandbox-test-{uuid.uuid4().hex}"
    for address in (path, abstract):
        server = socket.socket(socket.AF_UNIX)
        server.bind(address)
        server.listen(4)
        servers.append(server)
    yield path, abstract
    for server in servers:
        server.close()


SECRET_READ = """
import os
for pid in os.listdir('/proc'):
    if pid.isdigit():
        try:
            environ = open(f'/proc/{pid}/environ', 'rb').read()
        except OSError:
            continue
        if b'%(secret)s' in environ:
            print('ESCAPED via /proc', pid)
if '%(secret)s' in str(os.environ):
    print('ESCAPED via os.environ')
"""


def test_parent_environment_and_secrets_are_unreachable(tmp_path):
    """The judge runs in a process started with the secret in its environment (as a user's shell would
    start it), so the secret is in that process's /proc/<pid>/environ, not only in os.environ."""
    secret = f"sk-test-{uuid.uuid4().hex}"
    code = SECRET_READ % {"secret": secret}
    env = {**os.environ, "OPENAI_API_KEY": secret}
    control = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import subprocess, sys; subprocess.run([sys.executable, '-I', '-c', {code!r}])",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert "ESCAPED via /proc" in control.stdout  # an ordinary child finds its parent's secret
    judge = f"from plot_eval.judges.sandbox import run_python; r = run_python({code!r}); print(r.stdout, r.stderr)"
    inside = subprocess.run(
        [sys.executable, "-c", judge], env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert inside.returncode == 0, inside.stderr
    assert ESCAPED not in inside.stdout


def test_no_writes_outside_the_working_folder(tmp_path):
    targets = [
        tmp_path / f"escape-{uuid.uuid4().hex}",
        Path.home() / f".plot-sandbox-escape-{uuid.uuid4().hex}",
    ]
    code = "".join(
        f"try:\n    open({str(t)!r}, 'w').write('x'); print('ESCAPED', {str(t)!r})\nexcept OSError as e:\n"
        f"    print('refused', e)\n"
        for t in targets
    )
    try:
        control = _outside(code, tmp_path).stdout
        assert control.count(ESCAPED) == 2
        for target in targets:
            target.unlink()
        assert ESCAPED not in _inside(code)
        assert not any(t.exists() for t in targets)
    finally:
        for target in targets:
            target.unlink(missing_ok=True)


def test_host_files_are_unreadable(tmp_path):
    """System files, the repository and a secret in the real home folder."""
    secret = Path.home() / f".plot-sandbox-secret-{uuid.uuid4().hex}"
    secret.write_text("secret")
    paths = ["/etc/passwd", "/etc/hostname", __file__, str(secret), str(Path(__file__).parent)]
    code = (
        "import os\n"
        f"for path in {paths!r}:\n"
        "    try:\n"
        "        print('ESCAPED', path, os.listdir(path) if os.path.isdir(path) else open(path).read()[:20])\n"
        "    except OSError as error:\n"
        "        print('refused', error)\n"
    )
    try:
        assert _outside(code, tmp_path).stdout.count(ESCAPED) == len(paths)
        assert ESCAPED not in _inside(code)
    finally:
        secret.unlink()


def test_parent_of_working_folder_cannot_be_emptied(tmp_path, monkeypatch):
    """The sandbox's host folder is made under TMPDIR; a canary next to it must survive."""
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)
    canary = tmp_path / "canary"
    canary.write_text("keep me")
    code = (
        "import os, shutil\n"
        "parent = os.path.dirname(os.getcwd())\n"
        "for name in os.listdir(parent):\n"
        "    path = os.path.join(parent, name)\n"
        "    if path != os.getcwd():\n"
        "        try:\n"
        "            shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)\n"
        "            print('ESCAPED deleted', path)\n"
        "        except OSError as error:\n"
        "            print('refused', error)\n"
        f"os.remove({str(canary)!r})\n"
        "print('ESCAPED canary')\n"
    )
    _inside(code)
    assert canary.read_text() == "keep me"


def test_host_unix_sockets_are_unreachable(unix_socket, tmp_path):
    code = (
        "import socket\n"
        f"for address in {list(unix_socket)!r}:\n"
        "    try:\n"
        "        socket.socket(socket.AF_UNIX).connect(address); print('ESCAPED', repr(address))\n"
        "    except OSError as error:\n"
        "        print('refused', error)\n"
    )
    assert _outside(code, tmp_path).stdout.count(ESCAPED) == 2
    assert ESCAPED not in _inside(code)


CTYPES_CONNECT = """
import ctypes, socket, struct
libc = ctypes.CDLL('libc.so.6', use_errno=True)
fd = libc.socket(socket.AF_INET, socket.SOCK_STREAM, 0)
address = struct.pack('=HH4s8x', socket.AF_INET, socket.htons(%(port)d), socket.inet_aton('127.0.0.1'))
if fd >= 0 and libc.connect(fd, ctypes.c_char_p(address), len(address)) == 0:
    print('ESCAPED ctypes connect')
else:
    print('refused errno', ctypes.get_errno())
"""


def test_loopback_tcp_through_ctypes_is_unreachable(tcp_port, tmp_path):
    code = CTYPES_CONNECT % {"port": tcp_port}
    assert ESCAPED in _outside(code, tmp_path).stdout
    assert ESCAPED not in _inside(code)


def test_loopback_tcp_through_bash_dev_tcp_is_unreachable(tcp_port, tmp_path):
    code = (
        "import subprocess\n"
        f"done = subprocess.run(['bash', '-c', 'echo hi > /dev/tcp/127.0.0.1/{tcp_port}'])\n"
        "print('ESCAPED bash' if done.returncode == 0 else 'refused')\n"
    )
    assert ESCAPED in _outside(code, tmp_path).stdout
    assert ESCAPED not in _inside(code)


def _processes_with(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


@pytest.mark.parametrize("ending", ["returns", "times_out"])
def test_no_process_outlives_the_call(ending, tmp_path):
    """A setsid grandchild (a new session, out of any process group) is gone when run_python returns."""
    marker = f"plot-sandbox-survivor-{uuid.uuid4().hex}"
    code = (
        "import subprocess, sys, time\n"
        f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)', {marker!r}],"
        " start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,"
        " stderr=subprocess.DEVNULL)\n"
        "print('spawned', flush=True)\n"
        "time.sleep(0.5)\n"
    )
    if ending == "times_out":
        code += "while True:\n    time.sleep(1)\n"
    control = subprocess.Popen(
        [sys.executable, "-I", "-c", code.replace("while True", "while False")], stdout=subprocess.DEVNULL
    )
    control.wait(timeout=30)
    try:
        assert _processes_with(marker)  # outside a sandbox the grandchild survives its parent
    finally:
        for pid in _processes_with(marker):
            os.kill(pid, 9)
    result = run_python(code, timeout_s=8 if ending == "times_out" else 20)
    survivors = _processes_with(marker)
    for pid in survivors:
        os.kill(pid, 9)
    assert result.stdout == "spawned\n" and result.timed_out == (ending == "times_out")
    assert survivors == []
