"""The bubblewrap command line of the sandbox, and whether it can run on this machine.

Inside, the program sees read-only system libraries (``/usr`` and the merged-/usr links) and Python
installation, ``/proc`` of its own PID namespace, a minimal ``/dev`` and one writable folder, ``/sandbox``
(also ``/tmp``, ``HOME`` and the working directory): a fresh tmpfs whose size caps what the call can write.
No capabilities, ``no_new_privs``, new PID, network, IPC, UTS, mount and cgroup namespaces: no host process,
file, socket or environment variable is reachable, and when PID 1 inside dies the kernel kills the rest.

Started by root, bwrap needs no user namespace and ``setpriv`` makes the program the real host user
``nobody`` (in a user namespace ``nobody`` would map to root, which RLIMIT_NPROC does not cap); started by
another user, the program is ``nobody`` inside a user namespace and may not create more."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

WORKDIR = "/sandbox"
HARNESS_DIR = "/harness"
_SYSTEM_DIRS = ("/usr",)
_MERGED_USR_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
NOBODY = 65534


def interpreter() -> tuple[str, list[str]]:
    """The base Python interpreter (a venv's ``python`` is a link to it) and the folders it needs."""
    roots = sorted({os.path.realpath(p) for p in (sys.base_prefix, sys.base_exec_prefix)})
    executable = os.path.realpath(sys.executable)
    if not any(executable.startswith(root + os.sep) for root in roots):
        executable = os.path.join(roots[0], "bin", f"python{sys.version_info.major}.{sys.version_info.minor}")
    return executable, [root for root in roots if not root.startswith("/usr" + os.sep) and root != "/usr"]


def _identity() -> tuple[list[str], list[str]]:
    """bwrap options and a command prefix that make the program an unprivileged ``nobody``."""
    if os.geteuid() == 0:
        namespaces = "--unshare-ipc --unshare-pid --unshare-net --unshare-uts --unshare-cgroup-try".split()
        capabilities = "--cap-drop ALL --cap-add CAP_SETUID --cap-add CAP_SETGID".split()  # for setpriv only
        become = f"--reuid={NOBODY} --regid={NOBODY} --clear-groups --inh-caps=-all --no-new-privs".split()
        return namespaces + capabilities, ["setpriv", *become, "--"]
    user = ["--unshare-user", "--disable-userns", "--uid", str(NOBODY), "--gid", str(NOBODY)]
    return ["--unshare-all", *user, "--cap-drop", "ALL"], []


def _ancestors(path: str) -> list[str]:
    parents = list(Path(path).parents)[:-1]  # without "/"
    return [str(parent) for parent in reversed(parents)]


def _filesystem(python_roots: list[str], harness_files: tuple[Path, ...], write_limit: int) -> list[str]:
    argv = []
    for folder in _SYSTEM_DIRS:
        argv += ["--ro-bind", folder, folder]
    for link in _MERGED_USR_LINKS:
        if os.path.islink(link):
            argv += ["--symlink", os.readlink(link), link]
        elif os.path.isdir(link):
            argv += ["--ro-bind", link, link]
    for root in python_roots:  # its parents are made traversable (a home folder may be mode 0700)
        for parent in _ancestors(root):
            argv += ["--perms", "0755", "--dir", parent]
        argv += ["--ro-bind", root, root]
    argv += ["--perms", "0755", "--dir", HARNESS_DIR]
    for harness in harness_files:
        argv += ["--ro-bind", str(harness), f"{HARNESS_DIR}/{harness.name}"]
    argv += ["--proc", "/proc", "--dev", "/dev"]
    argv += ["--perms", "01777", "--size", str(write_limit), "--tmpfs", WORKDIR, "--symlink", WORKDIR, "/tmp"]
    return argv + ["--remount-ro", "/dev", "--remount-ro", "/", "--chdir", WORKDIR]  # /sandbox: the only rw


def bwrap_command(
    command: list[str], *, harness_files: tuple[Path, ...], write_limit: int, info_fd: int
) -> list[str]:
    """``bwrap ... -- command``; ``harness_files`` are bound read-only into ``HARNESS_DIR``, ``/sandbox``
    holds at most ``write_limit`` bytes; ``info_fd`` receives bwrap's JSON with the host PID of PID 1."""
    _, python_roots = interpreter()
    identity, prefix = _identity()
    lifetime = ["--die-with-parent", "--new-session"]
    environment = ["--clearenv"]
    variables = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "HOME": WORKDIR,
        "TMPDIR": WORKDIR,
    }
    for name, value in variables.items():
        environment += ["--setenv", name, value]
    filesystem = _filesystem(python_roots, harness_files, write_limit)
    info = ["--info-fd", str(info_fd)]
    return ["bwrap", *identity, *lifetime, *environment, *filesystem, *info, "--", *prefix, *command]


def missing_tool() -> str | None:
    """None when the programs the sandbox needs are installed, else what is missing."""
    if shutil.which("bwrap") is None:
        return "bubblewrap (bwrap) is not installed"
    if os.geteuid() == 0 and shutil.which("setpriv") is None:
        return "setpriv (util-linux) is not installed"
    return None
