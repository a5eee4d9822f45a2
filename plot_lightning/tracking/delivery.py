"""MLflow calls shared by the background logger and ``tracking sync``: params that never overwrite, tags."""

from __future__ import annotations

PARAMS_PER_CALL = 100  # MLflow's limit for one log_batch


def deliver_params(client, run_id: str, items: list[tuple[str, str]], reopened: bool = True) -> None:
    """Log ``items`` (at most :data:`PARAMS_PER_CALL`) the run lacks. In a run that may hold params already
    (``reopened``: a resume, a sync), one logged with another value becomes the tag ``resumed.<key>``: MLflow
    never changes a param."""
    from mlflow.entities import Param

    logged = client.get_run(run_id).data.params if reopened else {}
    fresh = [Param(key, value) for key, value in items if key not in logged]
    changed = {f"resumed.{key}": value for key, value in items if key in logged and logged[key] != value}
    if fresh:
        client.log_batch(run_id, params=fresh)
    if changed:
        client.log_batch(run_id, tags=run_tags(changed))


def run_tags(tags: dict[str, str]):
    """MLflow ``RunTag`` entities of a plain dict (values as strings)."""
    from mlflow.entities import RunTag

    return [RunTag(key, str(value)) for key, value in tags.items()]
