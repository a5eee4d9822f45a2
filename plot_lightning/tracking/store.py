"""Opening an MLflow store safely: a new local SQLite store is created by one process at a time.

MLflow migrates a fresh SQLite schema when the first client opens it; two processes doing that at once (two
runs started together on a new ``default_root_dir``) make one of them fail. An exclusive ``flock`` on
``<store>.lock`` serialises the creation. Imports only MLflow (no Lightning), so it is cheap to use anywhere.
"""

from __future__ import annotations

import fcntl
from pathlib import Path


def sqlite_lock_path(uri: str) -> Path | None:
    """The lock file next to a ``sqlite:///`` store (None for servers)."""
    return Path(uri[len("sqlite:///") :] + ".lock") if uri.startswith("sqlite:///") else None


def open_client(uri: str):
    """An ``MlflowClient`` whose store exists; a local SQLite store is created under a file lock."""
    from mlflow.tracking import MlflowClient

    lock = sqlite_lock_path(uri)
    if lock is None:
        return MlflowClient(uri)
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # MLflow migrates a new SQLite schema: one process at a time
        client = MlflowClient(uri)
        client.search_experiments(max_results=1)  # forces the store (and its migration) into existence
    return client


def experiment_id(client, name: str, artifact_location: str | None) -> str:
    """The id of experiment ``name``, created if missing (a concurrent creator is tolerated)."""
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    try:
        return client.create_experiment(name, artifact_location=artifact_location)
    except Exception:  # created meanwhile by another process
        found = client.get_experiment_by_name(name)
        if found is None:
            raise
        return found.experiment_id
