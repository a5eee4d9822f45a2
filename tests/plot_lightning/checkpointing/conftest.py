"""Fixtures of the checkpointing tests: a folder on another filesystem than the test's temporary folder: a fresh tmpfs mount, else /dev/shm."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest


@pytest.fixture
def other_filesystem_tmpdir(tmp_path):
    """An empty folder on a tmpfs, not the filesystem of ``tmp_path`` (a fresh mount when root, else
    /dev/shm); skips with the reason when neither is possible. Unmounted at the end of the test."""
    mount_point = tmp_path / "tmpfs"
    mount_point.mkdir()
    if os.geteuid() == 0:
        mounted = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=256m", "tmpfs", str(mount_point)], capture_output=True
        )
        if mounted.returncode == 0:
            yield mount_point
            subprocess.run(["umount", "-l", str(mount_point)], capture_output=True)
            return
    shm = Path("/dev/shm")
    if shm.is_dir() and os.stat(shm).st_dev != os.stat(mount_point).st_dev and os.access(shm, os.W_OK):
        folder = Path(tempfile.mkdtemp(prefix="plot-kill-", dir=shm))
        yield folder
        shutil.rmtree(folder, ignore_errors=True)
        return
    pytest.skip("no tmpfs: cannot mount one (not root) and /dev/shm is missing or on the same filesystem")


@pytest.fixture
def small_filesystem(tmp_path):
    """An empty folder on a fresh 1 MiB tmpfs (a disk that fills up); skips with the reason when mounting is
    not permitted (not root, or no mount namespace). Unmounted at the end of the test."""
    mount_point = tmp_path / "small"
    mount_point.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {mounted.stderr.strip()}")
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], capture_output=True)
