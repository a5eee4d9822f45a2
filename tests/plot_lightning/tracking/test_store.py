"""Creating an MLflow SQLite store on a real full disk (a small tmpfs): all or nothing; a half-built store
left by MLflow's own in-place creation is set aside with a one-line warning and replaced."""

from __future__ import annotations

import sqlite3
import subprocess
import warnings
from pathlib import Path

import pytest

from plot_lightning.tracking.store import experiment_id, open_client

FULL = "600k"  # a new store needs about 950 kB: MLflow's migrations run out of space half-way


def _usable(client) -> str:
    run = client.create_run(experiment_id(client, "after", None))
    client.log_metric(run.info.run_id, "x", 1.0)
    return run.info.run_id


def _open_quietly(uri: str):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        client = open_client(uri)
    return client, [str(w.message) for w in caught if "half-built" in str(w.message)]


@pytest.mark.slow
def test_a_store_created_on_a_full_disk_is_all_or_nothing(small_disk) -> None:
    disk = small_disk(FULL)
    db = disk / "mlflow.db"
    with pytest.raises(Exception, match=rf"^{db}: could not create the MLflow store \(.*disk is full"):
        open_client(f"sqlite:///{db}")
    assert sorted(path.name for path in disk.iterdir()) == ["mlflow.db.lock"]  # no half-built store
    small_disk.resize(disk, "8m")  # space freed: the next run creates the store
    client, messages = _open_quietly(f"sqlite:///{db}")
    run_id = _usable(client)
    assert messages == [] and client.get_run(run_id).data.metrics == {"x": 1.0}


@pytest.fixture(scope="module")
def half_built_bytes(tmp_path_factory) -> bytes:
    """The bytes of an ``mlflow.db`` that MLflow itself began to build in place on a full disk."""
    from mlflow.tracking import MlflowClient

    folder = tmp_path_factory.mktemp("inplace")
    disk = folder / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={FULL}", "tmpfs", str(disk)]).returncode:
        pytest.skip("cannot mount a small tmpfs to fill a disk")
    try:
        with pytest.raises(Exception, match="disk is full"):
            MlflowClient(f"sqlite:///{disk}/mlflow.db").search_experiments()
        return (disk / "mlflow.db").read_bytes()
    finally:
        subprocess.run(["umount", "--lazy", str(disk)], check=False)


def _stopped_between_migrations(db: Path) -> None:
    with sqlite3.connect(db) as connection:  # a migration's leftover table gone: only the version tells
        for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE name LIKE '_alembic_tmp_%'"):
            connection.execute(f"DROP TABLE {name}")


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["leftover migration table", "stopped between migrations", "not a database"])
def test_a_half_built_store_is_set_aside_with_one_line_and_a_whole_one_created(
    tmp_path, half_built_bytes, kind
):
    db = tmp_path / "mlflow.db"
    db.write_bytes(b"\x00" * 3000 if kind == "not a database" else half_built_bytes)
    if kind == "stopped between migrations":
        _stopped_between_migrations(db)
    before = db.read_bytes()
    client, messages = _open_quietly(f"sqlite:///{db}")
    set_aside = [path for path in tmp_path.iterdir() if path.name.startswith("mlflow.db.half-built-")]
    assert len(set_aside) == 1 and set_aside[0].read_bytes() == before  # kept, never deleted
    assert len(messages) == 1 and "\n" not in messages[0]
    assert messages[0].startswith(f"{db}: a half-built MLflow store (") and str(set_aside[0]) in messages[0]
    run_id = _usable(client)
    again, messages = _open_quietly(f"sqlite:///{db}")  # the new store is whole: left as it is
    assert messages == [] and again.get_run(run_id).data.metrics == {"x": 1.0}
