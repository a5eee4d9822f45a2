"""MLflow tracking of an evaluation (the only module in eval/ that imports mlflow).

One run per evaluation: params (suite, models, fingerprints, generation settings, seeds), the metrics of
`results.flat_metrics`, the per-sample table, and report.md, charts/*.png and results.json as artifacts. The
default store is `sqlite:///<cwd>/mlflow.db`; a server URL logs to that server. The caller writes the results
files first, so a tracking failure never loses them."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mlflow.tracking import MlflowClient

from plot_eval.reports.compare import paired_metrics
from plot_eval.reports.results import RESULTS_FILE, flat_metrics

DEFAULT_EXPERIMENT = "plot-eval"
_TABLE_COLUMNS = ("subpreference", "set", "prompt_id", "prompt", "model_response", "baseline_response", "win")


def default_tracking_uri() -> str:
    """sqlite:///<absolute cwd>/mlflow.db (MLflow 3's own default store, made explicit)."""
    return f"sqlite:///{Path.cwd().resolve() / 'mlflow.db'}"


@contextmanager
def _run(tracking_uri: str | None, experiment: str, run_name: str) -> Iterator[tuple[MlflowClient, dict]]:
    """(client, {"tracking_uri", "experiment_id", "run_id"}) of a new run in `experiment`, created when missing
    (with a sqlite store, its artifacts next to the database, not in the cwd); the run ends FINISHED, or
    FAILED when the block raises."""
    uri = tracking_uri or default_tracking_uri()
    client = MlflowClient(tracking_uri=uri)
    found = client.get_experiment_by_name(experiment)
    if found is not None:
        experiment_id = found.experiment_id
    else:
        artifacts = None
        if uri.startswith("sqlite:///"):
            artifacts = (Path(uri[len("sqlite:///") :]).parent / "mlartifacts" / experiment).as_uri()
        experiment_id = client.create_experiment(experiment, artifact_location=artifacts)
    run_id = client.create_run(experiment_id, run_name=run_name).info.run_id
    status = "FAILED"
    try:
        yield client, {"tracking_uri": uri, "experiment_id": experiment_id, "run_id": run_id}
        status = "FINISHED"
    finally:
        client.set_terminated(run_id, status=status)


def _params(results: dict[str, Any]) -> dict[str, str]:
    suite = results["suite"]
    params = {
        "suite.name": suite["name"],
        "suite.version": suite["version"],
        "model.name": results["models"]["model"]["name"],
        "model.fingerprint": results["models"]["model"]["fingerprint"],
        "baseline.name": results["models"]["baseline"]["name"],
        "baseline.fingerprint": results["models"]["baseline"]["fingerprint"],
        "data_root": results.get("data_root", ""),
        "limit": results.get("limit"),
    }
    params.update({f"generation.{key}": value for key, value in suite["config"]["generation"].items()})
    params.update({f"seed.{key}": value for key, value in (results.get("seeds") or {}).items()})
    return {key: str(value)[:500] for key, value in params.items()}


def log_evaluation(
    results: dict[str, Any],
    samples: list[dict[str, Any]],
    output_dir: str | os.PathLike,
    *,
    tracking_uri: str | None = None,
    experiment: str = DEFAULT_EXPERIMENT,
    run_name: str | None = None,
) -> dict[str, str]:
    """Log one evaluation as an MLflow run; returns {"tracking_uri", "experiment_id", "run_id"}."""
    output_dir = Path(output_dir)
    with _run(tracking_uri, experiment, run_name or f"{results['suite']['name']}-eval") as (client, run):
        run_id = run["run_id"]
        for key, value in _params(results).items():
            client.log_param(run_id, key, value)
        for key, value in flat_metrics(results).items():
            client.log_metric(run_id, key, float(value))
        if samples:
            table = {column: [sample.get(column) for sample in samples] for column in _TABLE_COLUMNS}
            client.log_table(run_id, data=table, artifact_file="samples_table.json")
        for name in ("report.md", RESULTS_FILE):
            if (output_dir / name).is_file():
                client.log_artifact(run_id, str(output_dir / name))
        if (output_dir / "charts").is_dir():
            client.log_artifacts(run_id, str(output_dir / "charts"), artifact_path="charts")
    return run


def log_comparison(
    table: dict[str, dict[str, float | None]],
    markdown: str,
    *,
    tracking_uri: str | None = None,
    experiment: str = DEFAULT_EXPERIMENT,
    paired: list[dict[str, Any]] | None = None,
) -> dict[str, str]:
    """Log a `plot-eval compare` table: metrics `<label>/<metric>`, the markdown as compare.md, and each
    paired comparison as metrics `paired/<B>_minus_<A>/...` plus paired.json."""
    with _run(tracking_uri, experiment, "compare") as (client, run):
        run_id = run["run_id"]
        for label, metrics in table.items():
            for key, value in metrics.items():
                if value is not None:
                    client.log_metric(run_id, f"{label}/{key}", float(value))
        for comparison in paired or []:
            for key, value in paired_metrics(comparison).items():
                client.log_metric(run_id, key, value)
        if paired:
            client.log_dict(run_id, paired, "paired.json")
        client.log_text(run_id, markdown, "compare.md")
    return run
