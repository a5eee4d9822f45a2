"""What `plot-eval run` prints after the summary table (moved out of cli.py into reports/console.py)."""

from __future__ import annotations

from plot_eval.reports.console import run_lines


def test_run_lines_name_the_results_file_and_the_mlflow_run_or_why_it_is_missing(synthetic_run):
    results, _, output_dir = synthetic_run
    results["tracking"] = {"tracking_uri": "sqlite:///x/mlflow.db", "run_id": "abc"}
    lines = run_lines(results)
    assert lines[-2] == f"results: {output_dir}/results.json"
    assert (
        lines[-1]
        == "mlflow: sqlite:///x/mlflow.db run abc  (browse: mlflow ui --backend-store-uri sqlite:///x/mlflow.db)"
    )
    results["tracking"] = {"error": "OSError: disk full", "tracking_uri": None}
    assert run_lines(results)[-1] == "mlflow: NOT logged (OSError: disk full)"
    del results["tracking"]
    assert run_lines(results)[-1].startswith("results: ")


def test_the_notes_of_the_metrics_in_the_run_are_printed_once(synthetic_run):
    """The quick suite has two ASR sets and an over-refusal set: their metrics share one note."""
    results, _, _ = synthetic_run
    lines = run_lines(results)
    assert sum("StrongREJECT rubric judge" in line for line in lines) == 1
