"""Opening an MLflow store safely: a local SQLite store is created all-or-nothing, one process at a time.

MLflow builds a new SQLite store in place, table by table and migration by migration: a disk that fills or a
process killed in between leaves a half-built ``mlflow.db`` on which every later open fails. Here a new store is
built in a temporary file and renamed into place once complete; one found half-built is set aside (never
deleted) with a warning. An exclusive ``flock`` on ``<store>.lock`` serialises this across processes.
"""

from __future__ import annotations

import fcntl
import functools
import os
import secrets
import sqlite3
import time
import warnings
from contextlib import closing
from pathlib import Path

# SQLite result codes of a file that is not a (whole) database; anything else (e.g. "locked") is not ours to judge.
_BROKEN_FILE = {"SQLITE_NOTADB", "SQLITE_CORRUPT"}


class StoreError(RuntimeError):
    """A local MLflow store that could not be created; the message names the file and the cause."""


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI (None for servers)."""
    return Path(uri[len("sqlite:///") :]) if uri.startswith("sqlite:///") else None


def sqlite_lock_path(uri: str) -> Path | None:
    """The lock file next to a ``sqlite:///`` store (None for servers)."""
    path = sqlite_path(uri)
    return None if path is None else path.with_name(path.name + ".lock")


def open_client(uri: str):
    """An ``MlflowClient`` whose store exists and is whole (see the module docstring)."""
    from mlflow.tracking import MlflowClient

    db = sqlite_path(uri)
    if db is None:
        return MlflowClient(uri)
    db.parent.mkdir(parents=True, exist_ok=True)
    with open(sqlite_lock_path(uri), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        state, reason = store_state(db)
        if state == "half-built":
            _set_aside(db, reason)
        if state != "whole":
            _create(db, replace=db.exists())  # only an empty file is replaced
            _forget_engine(uri)  # this process may hold connections to the file that was there before
        client = MlflowClient(uri)
        client.search_experiments(max_results=1)
    return client


def store_state(db: Path) -> tuple[str, str]:
    """``("absent" | "half-built" | "whole", reason)`` of the SQLite store ``db``.

    Absent: no file, an empty file or no table. Half-built: leftover ``_alembic_tmp_*`` tables, no schema
    version, a file SQLite cannot read as a database, or a schema version older than this MLflow's in a store
    without runs (creation stopped between migrations; a store with runs from an older MLflow is whole: MLflow
    itself says how to upgrade it)."""
    if not db.is_file() or db.stat().st_size == 0:
        return "absent", ""
    try:
        # Read-write on purpose: SQLite rolls back a hot journal left by a killed writer before reading.
        with closing(sqlite3.connect(db, timeout=60)) as connection:
            tables = {
                name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
            leftovers = sorted(name for name in tables if name.startswith("_alembic_tmp_"))
            if leftovers:
                return "half-built", f"an interrupted schema migration left {', '.join(leftovers)}"
            if not tables:
                return "absent", ""
            if "alembic_version" not in tables:
                return "half-built", "it has tables but no schema version"
            version = connection.execute("SELECT version_num FROM alembic_version").fetchone()
            runs = connection.execute("SELECT count(*) FROM runs").fetchone()[0] if "runs" in tables else 0
    except sqlite3.DatabaseError as error:
        if getattr(error, "sqlite_errorname", None) not in _BROKEN_FILE:
            raise
        return "half-built", f"not a readable SQLite database: {error}"
    if version is None:
        return "half-built", "its schema version is missing"
    if runs == 0:
        head, earlier = _schema_versions()
        if version[0] in earlier:  # (a version this MLflow does not know is a newer MLflow's: left alone)
            return "half-built", f"its schema stopped at version {version[0]}, before {head}"
    return "whole", ""


@functools.cache
def _schema_versions() -> tuple[str, set[str]]:
    """The schema version this MLflow creates (the head of its Alembic migrations) and the ones before it."""
    import mlflow.store.db_migrations as migrations
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(os.path.dirname(migrations.__file__))
    head = script.get_current_head()
    return head, {revision.revision for revision in script.walk_revisions()} - {head}


def _set_aside(db: Path, reason: str) -> None:
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    target = db.with_name(f"{db.name}.half-built-{stamp}-{secrets.token_hex(2)}")
    for suffix in ("", "-journal", "-wal", "-shm"):  # SQLite's side files belong to the same database
        side = db.with_name(db.name + suffix)
        if side.exists():
            os.replace(side, target.with_name(target.name + suffix))
    warnings.warn(
        f"{db}: a half-built MLflow store ({reason}); set aside as {target}, and a new store is created",
        UserWarning,
        stacklevel=3,
    )


def _create(db: Path, replace: bool) -> None:
    """Build a new store in a temporary file next to ``db``, then move it into place (all or nothing)."""
    from mlflow.tracking import MlflowClient

    staging = db.with_name(f".{db.name}.creating-{os.getpid()}-{secrets.token_hex(3)}")
    staging_uri = f"sqlite:///{staging}"
    try:
        MlflowClient(staging_uri).search_experiments(max_results=1)
        _forget_engine(staging_uri)
        _move_into_place(staging, db, replace)
    except Exception as error:
        _forget_engine(staging_uri)  # its open file would keep the deleted file's space in use
        for leftover in (staging, staging.with_name(staging.name + "-journal")):
            leftover.unlink(missing_ok=True)
        cause = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise StoreError(
            f"{db}: could not create the MLflow store ({cause}); nothing was left behind, the next run creates it"
        ) from error


def _move_into_place(staging: Path, db: Path, replace: bool) -> None:
    """Rename ``staging`` to ``db``. Unless ``replace``, never over a store that a process without this lock
    (``mlflow ui``, a bare MlflowClient) created meanwhile: a hard link fails if ``db`` exists."""
    if replace:
        os.replace(staging, db)
        return
    try:
        os.link(staging, db)
    except FileExistsError:
        pass  # theirs is kept; ours is dropped
    except OSError:  # a filesystem without hard links
        os.replace(staging, db)
        return
    staging.unlink()


def _forget_engine(uri: str) -> None:
    """Close and drop MLflow's cached database engine of ``uri`` (MLflow keeps one per URI per process)."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    engine = getattr(SqlAlchemyStore, "_engine_map", {}).pop(uri, None)
    if engine is not None:
        engine.dispose()


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
